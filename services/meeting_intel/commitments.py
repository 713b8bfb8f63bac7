"""Commitments in what was said: who will do what, found by the grammar of commitment.

A first-person future ("I'll send ...", "let me check ..."), a named person's ("Bob will
...", "[PERSON3] needs to ...", "ask Ann to ..."), a request to the listener ("can you
update ...", "please ...") and explicit markers ("Action item: ...") are candidates, with
an owner and a task: the clause after the verb, as a short imperative.

Only commitments count. The task must start with a verb of doing in its base form (not
"say", "think", "be", "need"; not "I'll I'm clicking": speech restarted; not a past
"will evaluated") and name something to check afterwards, not what is done there and
then in the meeting ("share the screen", "send you a link here", "just a moment, let me
..."). A hedge makes a guess of it: "I'll try to", "I will probably", "maybe Bob can",
"I think Bob should", "I hope I will". "Would you ...?" and "will you ...?" ask for a view
or an intention, and "you will ..." tells what will happen ("you will see the
alignment"), unless it obliges ("you'll have to rename the files").

Owners: "I" is the speaker, a name is that person (a speaker when one matches); a request
is owned by the person it calls by name or names, else by whoever takes it on in the next
turn ("Sure.", "I'll do it."). A request to a group ("everybody please ...") or that nobody
takes on names no owner. The team's own plan ("we should ask ...", "we need to prepare ...",
"let's review ...") is owned by the team (TEAM): minutes list it with the subject left out
("To review the methodology ..."); most misses on ELITR dev were such items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.meeting_intel.people import NAME, People
from services.meeting_intel.sentences import Sentence, clean
from services.meeting_intel.transcript import UNKNOWN_SPEAKER

MAX_TASK_WORDS = 24
_ADVERBS = (
    r"(?:(?:also|just|then|first|again|please|definitely|certainly|quickly|really|still|immediately"
    r"|probably|maybe|perhaps|possibly|hopefully|try to|try and|have to|need to|also have to)\s+)*"
)
# A hedge makes a commitment a guess: "I'll try to register", "I will probably need",
# "maybe [PERSON11] can adapt", "I hope I will send", "I think Bob should". Between the
# subject and the task, or just before the subject.
_HEDGE = re.compile(r"\b(?:probably|likely|maybe|perhaps|possibly|hopefully|try)\b", re.I)
_HEDGED_BEFORE = re.compile(
    r"\b(?:maybe|perhaps|probably|likely|possibly|hopefully|think|guess|hope|suppose|believe|expect"
    r"|assume)\s*,?\s*(?:that\s+)?$",
    re.IGNORECASE,
)
# A sentence that opens as a guess stays one until a "but" turns it: "so that's probably
# what will be the final result, that we will ask for an extension", "maybe from tomorrow
# on I will start writing" ("maybe not today, but I will send it tomorrow" commits).
_HEDGED_SENTENCE = re.compile(
    r"\b(?:maybe|perhaps|probably|likely|possibly|hopefully)\b(?!.*\bbut\b)", re.IGNORECASE
)
# A hedge after the verb is one too: "let's finish probably", "we are going to fix it in
# order to performance likely better".
_HEDGE_IN_TASK = re.compile(r"\b(?:probably|likely|maybe|perhaps|possibly|hopefully)\b", re.I)
_TASK = rf"{_ADVERBS}(?P<task>[a-z]\w*\b.*)"
# A commitment is a future the speaker takes on, not a need: "I have to leave", "I need to
# check with credentials", "you have to unmute yourself" oblige nobody to anything after
# the meeting (on ELITR dev none of 16 such first-person items was in the minutes).
_FIRST = re.compile(
    rf"\b(?:I(?:'ll| will| shall| am going to|'m going to|'m gonna| promise to| plan to"
    rf"| am planning to|'m planning to)|let me)\s+{_TASK}",
    re.IGNORECASE,
)
# The team's own: "we should ask ...", "everybody needs to fill ...", "let's review ...". Minutes
# list these as to-dos with the subject left out ("To review the methodology ...").
_TEAM = re.compile(
    rf"\b(?:(?:we|everybody|everyone|all of us)(?:'ll| will| shall| should| must| needs? to"
    rf"| ha(?:ve|s) to| are going to|'re going to|'re gonna)|let's|lets|let us)\s+{_TASK}",
    re.IGNORECASE,
)
TEAM = "team"
_SECOND = re.compile(
    rf"\b(?:(?P<modal>can|could|would|will) you(?P<please> please)?|(?P<told>you(?:'ll| will))"
    rf"|please)\s+{_TASK}",
    re.IGNORECASE,
)
# "Would you propose ...?", "Will you merge them or?" ask for an opinion or an intention;
# "can you" and "could you" ask for the work.
_ASKING_VIEW = frozenset({"would", "will"})
# Asked of a listener, showing and telling are done in the meeting, in the answer: "could
# you demonstrate the plan C you have", "can you explain what the status is" ("I'll present
# the results next week" is a commitment, and "can you tell Bob to renew it" a request).
_ANSWERED_HERE = re.compile(
    r"^(?:explain|describe|demonstrate|present|show|tell(?! \S+ to\b)|summari[sz]e|introduce"
    r"|walk us)\b",
    re.IGNORECASE,
)
_OBLIGES = re.compile(r"(?:have to|need to|must)\s", re.IGNORECASE)
# A reply that takes a request on.
_ACCEPTS = re.compile(
    r"^(?:yes|yeah|yep|sure|ok|okay|of course|certainly|fine|alright|all right|no problem"
    r"|will do|I will|I'll|I can|I'm on it|right|let's do (?:it|that))\b",
    re.IGNORECASE,
)
_LEADING_NAME = re.compile(rf"^(?:{NAME}),\s*")
# An anonymised person, as ELITR writes one: a speaker "PERSON3", a mention "[PERSON3]".
_ANONYMISED = re.compile(r"\[?PERSON\d+\]?")
# A request to a group names no owner: "everybody please review", "could someone send".
_GROUP = re.compile(
    r"\b(?:everybody|everyone|all|all of you|you all|guys|someone|somebody|anyone|anybody"
    r"|people)\s*,?\s*$",
    re.IGNORECASE,
)
# What is done there and then, in the meeting: "I'll send you a link here", "let me check
# now", "I'll put it in the chat" ("from now on" is a future).
_HERE_AND_NOW = re.compile(
    r"\b(?:(?<!from )now(?! on\b)|here|at the moment|this moment|in(?:to)? the chat"
    r"|on (?:the|my|your) screen)\b",
    re.IGNORECASE,
)
_MOMENT = re.compile(r"\b(?:just a|one|a) (?:moment|second|sec|minute)\b", re.IGNORECASE)
# Words that cannot start a task said as a bare verb ("I'll I'm clicking ...", "you will for
# plan B ..."): pronouns, articles, auxiliaries, prepositions, and "please", which in a
# request is politeness ("but please please [PERSON10] touch with ...": speech restarted).
_NOT_VERB_TEXT = """
    i i'm i'll it it's its that this these those the a an we you they he she there his her
    we'll we're you'll you're they'll they're he'll she'll let's lets
    my our your their is are was were am been being will would could should can may might
    shall must for in on at of to from with by as and or but so if because like not please"""
_NOT_VERB = frozenset(_NOT_VERB_TEXT.split())
# Base forms that end like a participle or a past tense.
_ING_ED_TEXT = """
    bring sing ring string swing sting spring need feed seed proceed succeed exceed embed
    shed speed breed bleed heed shred"""
_ING_ED_VERBS = frozenset(_ING_ED_TEXT.split())
_NAMED = re.compile(
    rf"(?P<who>{NAME})(?:\s+and\s+(?P<also>{NAME}))?\s+(?:will|'ll|shall|is going to|is gonna"
    rf"|needs to|has to|must|should)\s+{_TASK}"
)
_ASKED = re.compile(
    rf"\b(?:ask|asked|want|wants|like|need|needs|tell|remind)\s+(?P<who>{NAME})\s+to\s+{_TASK}"
)
_EXPLICIT = re.compile(
    r"^(?:action items?|action points?|to-?dos?|next steps?|tasks?)"
    rf"(?:\s+for\s+(?P<who>{NAME}|me|you|us))?\s*[:\-]\s*(?P<task>.+)",
    re.IGNORECASE,
)
# Verbs of thinking, perceiving and wanting: "I'll say", "I can imagine", "you will see",
# "I will need hands" are not work; nor is what is done in the meeting itself, there and
# then ("can you share the screen", "please open the agenda", "I'll disconnect", "please go
# ahead"; "go through" or "go over" something is work).
_NOT_WORK = re.compile(
    r"^(?:be|say|think|guess|mean|know|hope|hear|see|like|love|want|agree|admit|assume"
    r"|believe|imagine|suppose|understand|remember|forget|feel|wonder|bet|not|never|get it"
    r"|need(?! to)|require|try|let's"
    r"|tell you|appreciate|have (?!a look|a chat|a call|a meeting|a session|to\b)"
    r"|open|close|scroll|click|paste|type|unmute|mute|unute|join|leave|disconnect|wait"
    r"|go(?! through| over)|look at|repeat|stop sharing|play|show (?:me|us|you)"
    # the meeting's own procedure, which these verbs are only when their object is the
    # meeting itself or missing ("let's finish", "let's start with the agenda"; "I'll
    # finish the report" and "can you stop the staging server" are work)
    r"|(?:get started|start(?: again)?|finish|proceed|continue|stop)"
    r"(?: (?:up|now|here|then|today|again|for today))?$"
    r"|(?:get started|start(?: again)?|continue|proceed) with (?:the |this )?"
    r"(?:agenda|meeting|next|first|last|item|point|topic|question|demo|presentation)\b"
    # going on as before is no new task ("let's proceed like that for the rest of the
    # project", "we will continue this way")
    r"|(?:proceed|continue|go on|carry on|keep going)(?: like (?:that|this)| (?:this|that|the same)"
    r" way| as (?:before|usual|we did))"
    r"|move (?:on|to)|take (?:a )?votes?|(?:talk about|discuss) (?:it|this|that)(?: now| later)?$"
    r"|see"
    r"|share (?:again )?(?:my|the|your|his|her) screen|share (?:again )?the screen)\b",
    re.IGNORECASE,
)
# "if you think I should ...", "what can you show ...", "doesn't let me ...", "should Bob
# send it" (a question without its mark): a condition, a question or a denial, not a
# commitment. Nor is a clause that describes a thing ("plan B is something that Bob will
# help with", "the things that we need to do together"): it says what a plan is, while
# who does what is said elsewhere.
_SUBORDINATE = re.compile(
    r"\b(?:if|whether|unless)\b[^,;]*$|\b(?:what|how|why|where|when|which)\s*$"
    r"|\b(?:something|anything|everything|nothing|thing|things|stuff)\s+(?:that\s+)?$"
    r"|(?:n't|\bnot|\bnever)\s*$|\b(?:can|could|would|should|shall|may|might|do|does|did)\s*$",
    re.IGNORECASE,
)
# A task ends with its clause: a stop, a conjunction, a new subject ("Push you the link,
# I'm now looking ...", "Decide and I will talk to ...", "send the slides and Cara will ..."),
# a dash where speech broke off, or a new imperative ("I will mail you today, don't worry").
_CLAUSE_END = re.compile(
    r"\s*(?:[;?!]|\.(?:\s|$)|,?\s+(?:because|but|although|unless|so that|if|when|since"
    r"|as long as)\b|,\s*(?:so|and then|then|right|yeah|okay|yes|no|we|you|he|she|they|it"
    r"|there)\b|(?:,|\s+and)?\s+I\b|\s+(?:and|so|then|maybe|but)\s+(?:we|you|they|he|she)\b"
    r"|\s+[-\u2013\u2014]+(?:\s|$)|\s+(?:let's|lets)\s|,\s*(?:don't|do not)\s"
    rf"|\s+and\s+(?:{NAME})\s+(?:will|'ll|should|must|needs? to|has to|is going to)\b)",
    re.IGNORECASE,
)
# A word cut off where speech restarted, and the fillers after it: "simply- yeah, review
# the methodology", "f- like fill this table".
_RESTART = re.compile(
    r"^(?:[\w']*\w-[\s,]+(?:(?:like|yeah|yes|so|well|okay|ok|uh|um)[\s,]+)*)+", re.IGNORECASE
)
# A preposition with a comma after it is where speech broke off and restarted: "I will
# talk to, with on [LOCATION1], they would like ..." says no more than "I will talk".
# Not "in" or "on": they end phrasal verbs ("I'll log in, download the logs").
_BROKEN_OFF = re.compile(r"\s+(?:to|with|for|of|at|about|from|into),.*$", re.I)
# Words a cut clause may be left hanging on.
_DANGLING = re.compile(r"(?:[\s,]+(?:and|or|so|then|to|that|the|a|an|with|of|for))+$", re.I)


@dataclass(frozen=True)
class Candidate:
    owner: str
    task: str
    sentence: Sentence
    checked: bool  # whether it must lean toward commitment to count


def candidates(sentences: list[Sentence], people: People) -> list[Candidate]:
    """Sentences shaped like a commitment, request or action marker, with owner and task."""
    return [c for sentence in sentences for c in _candidates(sentence, people) if c.task]


def _candidates(sentence: Sentence, people: People) -> list[Candidate]:
    """A sentence's commitments, one per clause: "we'll record what we deliver and we'll
    include it in the presentation" is two."""
    text = sentence.clean
    if match := _EXPLICIT.match(text):
        who = match.group("who") or ""
        owner = {"me": sentence.speaker, "us": ""}.get(who.lower())
        if owner is None:
            owner = (
                people.addressee(sentence.segment, text)
                if who.lower() == "you"
                else people.canonical(who)
                if who
                else ""
            )
        return [Candidate(owner, _task(match.group("task"), check=False), sentence, False)]
    if _MOMENT.search(text):
        return []  # "just a moment, I'll share ...": done in the meeting
    question = sentence.is_question
    matches = []
    if not question:
        for pattern in (_NAMED, _ASKED):
            matches += [
                (m.start(), pattern, m)
                for m in _every(pattern, text)
                if _names_person(people, m.group("who"))
            ]
        matches += [(m.start(), _FIRST, m) for m in _every(_FIRST, text)]
        matches += [(m.start(), _TEAM, m) for m in _every(_TEAM, text)]
    matches += [(m.start(), _SECOND, m) for m in _every(_SECOND, text)]
    found: list[Candidate] = []
    taken = 0  # where the last task found ends: a later match inside it is part of it
    for start, pattern, match in sorted(matches, key=lambda found: found[0]):
        if start < taken:
            continue
        task = _task(match.group("task"))
        before, said = text[:start], text[start : match.start("task")]
        if not task or _SUBORDINATE.search(before):
            continue
        if _HEDGE.search(said) or _HEDGED_BEFORE.search(before):
            continue
        if _HEDGED_SENTENCE.search(before) or _HEDGE_IN_TASK.search(task):
            continue
        if pattern is _FIRST:
            owner = sentence.speaker
        elif pattern is _TEAM:
            owner = TEAM
        elif pattern is _SECOND:
            if (match.group("modal") or "").lower() in _ASKING_VIEW and not match.group("please"):
                continue
            if _GROUP.search(before) or _ANSWERED_HERE.match(task):
                continue
            owner = _requested_of(people, sentence, match)
        else:
            names = [match.group("who")]
            if pattern is _NAMED and match.group("also"):
                names.append(match.group("also"))
            owner = " and ".join(people.canonical(name) for name in names)
        found.append(Candidate(owner, task, sentence, pattern in (_FIRST, _SECOND, _TEAM)))
        taken = match.start("task") + len(task)
    return found


def _names_person(people: People, name: str) -> bool:
    """Whether `name` names a person. A transcript whose speakers are all anonymised
    ("[PERSON3]") has its people's names anonymised too, so a plain capitalised word there
    is a product or a place: "well Overleaf will work as a Git repository"."""
    if not people.is_person(name):
        return False
    anonymised = people.speakers and all(_ANONYMISED.fullmatch(s) for s in people.speakers)
    return not anonymised or _ANONYMISED.fullmatch(name) is not None


def _every(pattern: re.Pattern, text: str) -> list[re.Match]:
    """Every match of `pattern`, also those that start inside an earlier one (a task runs
    to the end of the sentence, so "... and we'll include it" is inside the first)."""
    found = []
    position = 0
    while match := pattern.search(text, position):
        found.append(match)
        position = match.start() + 1
    return found


def _requested_of(people: People, sentence: Sentence, match: re.Match) -> str:
    """Who a request or a "you will" is for: the person it names, else the one who takes it
    on in the next turn ("Sure."); "" when it names nobody and nobody took it on.

    "You will ..." tells what will happen ("you will see", "you will get the alignment")
    unless it obliges ("you'll have to rename the files")."""
    obliges = _OBLIGES.search(match.string[match.end("told") : match.start("task")] + " ")
    if match.group("told") and not obliges:
        return ""
    text = sentence.clean
    speaker = sentence.speaker
    called = people.vocative(text) or next(iter(people.named_in(text, exclude=speaker)), "")
    if called and called != speaker:
        return called
    segments = people.transcript.segments
    for index in range(sentence.segment + 1, len(segments)):
        reply = segments[index]
        if reply.text and reply.speaker not in (speaker, UNKNOWN_SPEAKER):
            answer = _LEADING_NAME.sub("", clean(reply.text))  # "Ann, sure."
            return reply.speaker if _ACCEPTS.match(answer) else ""
    return ""


def _task(text: str, check: bool = True) -> str:
    """The task as a short imperative: up to the end of its clause, first letter upper."""
    task = _CLAUSE_END.split(_RESTART.sub("", text), maxsplit=1)[0].strip(" ,.-")
    task = _BROKEN_OFF.sub("", task)
    task = _DANGLING.sub("", task)  # "Write to Ann to", "Do checks today and"
    if check and (_NOT_WORK.match(task) or _HERE_AND_NOW.search(task)):
        return ""
    words = task.split()
    if check and (len(words) < 2 or not _is_base_verb(words[0]) or _is_subject(words[1])):
        return ""  # "I'll try", "can you?": nothing to do that anyone could check
    task = " ".join(words[:MAX_TASK_WORDS])
    return task[:1].upper() + task[1:]


def _is_base_verb(word: str) -> bool:
    """Whether `word` can be a verb's base form: not a pronoun or auxiliary, not "getting"
    or "evaluated" (a present or past said after "will": speech restarted)."""
    word = word.casefold()
    if word in _NOT_VERB:
        return False
    if word in _ING_ED_VERBS or len(word) < 5:
        return True
    return not word.endswith(("ing", "ed"))


def _is_subject(second: str) -> bool:
    """Whether a task's second word makes its first a subject ("I will tool is doing ..."):
    speech that restarted, not a task."""
    return second.casefold() in {"is", "are", "was", "were", "has", "have", "had", "will"}
