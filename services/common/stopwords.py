"""Words that say nothing of what a text is about, for the extractors of keywords (classifier)
and of topic terms (meeting_intel): one list, so the services agree on what a content word is.

`WRITTEN` are the function words and the vague words of written English. `SPOKEN` adds what
talk is full of and carries no subject ("yeah", "think", "thing", "okay"): a transcript's
terms leave out both.
"""

from __future__ import annotations

_WRITTEN = """
    a about above according across after afterwards again against all almost alone along
    already also although always am among amongst an and another any anybody anyhow
    anyone anything anyway anywhere are around as at away back be became because become
    becomes been before beforehand behind being below beside besides between beyond both
    but by can cannot could did do does doing done down dr due during each either else
    elsewhere enough etc even ever every everybody everyone everything everywhere except
    few for former formerly from further get gets getting got had has have having he
    hence her here hereby herein hers herself him himself his how however i if in
    including indeed into is it its itself just last latter least less let lets like
    made make makes making many may me meanwhile might mine more moreover most mostly mr
    mrs ms much must my myself namely neither never nevertheless next no nobody none
    noone nor not nothing now nowhere of off often on once one only onto or other others
    otherwise our ours ourselves out over own per perhaps please put quite rather re
    really said same say says see seem seemed seeming seems several shall she should
    since so some somebody somehow someone something sometime sometimes somewhere still
    such than that the their theirs them themselves then thence there thereafter thereby
    therefore therein thereupon these they this those though through throughout thru
    thus to together told too toward towards under until up upon us very via was we well
    were what whatever when whence whenever where whereafter whereas whereby wherein
    whereupon wherever whether which while whither who whoever whole whom whose why will
    with within without would yet you your yours yourself yourselves
    """

_SPOKEN = """
    yeah yes yep okay ok oh ah uh um ehm eh hmm mm mhm hi hello bye thanks thank sorry
    right sure actually basically probably maybe definitely certainly exactly absolutely
    think thought know knew mean meant guess suppose believe want wanted need needed
    going go goes went gone come came coming look looking looks looked try tried trying
    tell talk talking ask asked use used using give given take taken work working thing
    things stuff lot lots kind sort bit way ways time times today tomorrow yesterday
    good great fine nice bad better best big small little new old first second able true
    fact point case part idea question problem person people guys pretty two three four
    five six seven eight nine ten half hundred thousand
    """

WRITTEN = frozenset(_WRITTEN.split())
SPOKEN = WRITTEN | frozenset(_SPOKEN.split())
