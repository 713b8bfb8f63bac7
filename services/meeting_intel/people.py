"""People named in a meeting: the speakers, and who a name or a "you" refers to."""

from __future__ import annotations

import re

from services.meeting_intel.transcript import UNKNOWN_SPEAKER, Transcript

# Capitalised words that start sentences but never name a person.
_NOT_NAMES_TEXT = """
    i we you he she they it this that these those there here what which who whom whose
    when where why how everything everyone everybody someone somebody something anyone
    anybody anything nobody nothing none all each both either neither the a an and but or so
    then also maybe perhaps probably actually basically yeah yes no okay ok well now today
    tomorrow next last first second one two three our my your his her their its if because
    though although while unless once since after before let please thanks thank hello hi
    sorry right sure good great fine just only even still again otherwise hopefully
    unfortunately obviously surely really people guys folks team monday tuesday wednesday
    thursday friday saturday sunday january february march april may june july august
    september october november december"""
NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
# Words before a name that are not the name: "Hon. Ahmed Hussen", "Dr. Ann Lee".
_TITLES_TEXT = "mr mr. mrs mrs. ms ms. miss dr dr. prof prof. hon hon. rt. right sir dame madam the"
TITLES = frozenset(_TITLES_TEXT.split())
_ROLE = re.compile(r"\s*\([^()]*\)")  # "(Minister of ...)", "(Markham, CPC)"
# A name as transcripts write one: "Bob", "Mary-Ann", an anonymised "[PERSON3]".
NAME = r"\[[A-Z][A-Za-z]*\d*\]|[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_MENTION = re.compile(rf"(?<![\w\[])({NAME})(?![\w\]])")
# A name set off by a comma at the start of a sentence (after "so", "okay", ...) or at its
# end. At the start any capitalised word looks like one ("Honestly, ..."), so there only a
# speaker or an anonymised "[PERSON3]" counts.
_VOCATIVE_START = re.compile(
    rf"^(?:(?i:so|okay|ok|and|now|then|well|yes|yeah|please)[,\s]+)*({NAME}),"
)
_VOCATIVE_END = re.compile(rf",\s*({NAME})\s*[?.!]*$")


class People:
    def __init__(self, transcript: Transcript):
        self.transcript = transcript
        self.speakers = list(dict.fromkeys(s.speaker for s in transcript.spoken))
        self._lookup: dict[str, str] = {}
        for speaker in self.speakers:
            if speaker == UNKNOWN_SPEAKER:
                continue
            self._lookup[speaker.casefold()] = speaker
            # "Hon. Ahmed Hussen (Minister of ...)" is also "Ahmed Hussen", and "Ahmed".
            bare = _ROLE.sub("", speaker).strip()
            names = [word for word in bare.split() if word.casefold() not in TITLES] or [bare]
            self._lookup.setdefault(" ".join(names).casefold(), speaker)
            # "Bob" names the speaker "Bob Smith" unless another speaker is a Bob too.
            self._lookup.setdefault(names[0].casefold(), speaker)

    def canonical(self, name: str) -> str:
        """A speaker's name as the transcript gives it, or the name as said."""
        bare = name.strip().strip("[]")
        return self._lookup.get(bare.casefold(), bare)

    def is_person(self, word: str) -> bool:
        bare = word.strip("[]")
        if bare.casefold() in self._lookup:
            return True
        if word.startswith("["):
            return bare.upper().startswith("PERSON")  # anonymised people, not [PROJECT1]
        return word[:1].isupper() and bare.casefold() not in NOT_NAMES

    def named_in(self, text: str, exclude: str = "") -> list[str]:
        """Speakers named in `text` (a vocative "[PERSON3], can you ..."), `exclude` aside."""
        found = []
        for match in _MENTION.finditer(text):
            name = self._lookup.get(match.group(1).strip("[]").casefold())
            if name and name != exclude and name not in found:
                found.append(name)
        return found

    def vocative(self, text: str) -> str:
        """The person a sentence calls by name ("[PERSON3], can you ...", "..., Bob?")."""
        if match := _VOCATIVE_START.search(text):
            name = match.group(1)
            if name.startswith("[") or name.casefold() in self._lookup:
                return self.canonical(name) if self.is_person(name) else ""
        if (match := _VOCATIVE_END.search(text)) and self.is_person(match.group(1)):
            return self.canonical(match.group(1))
        return ""

    def addressee(self, segment: int, text: str) -> str:
        """Who a "you" in `segment` speaks to: the person called by name, else a speaker
        named there, else the next other speaker (who usually answers), else the previous
        one; "" when nobody else spoke."""
        segments = self.transcript.segments
        speaker = segments[segment].speaker
        called = self.vocative(text)
        if called and called != speaker:
            return called
        named = self.named_in(text, exclude=speaker)
        if named:
            return named[0]
        for index in [*range(segment + 1, len(segments)), *range(segment - 1, -1, -1)]:
            other = segments[index].speaker
            if other != speaker and other != UNKNOWN_SPEAKER and segments[index].text:
                return other
        return ""
