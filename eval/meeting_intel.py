"""ELITR meetings: the local meeting analysis against the human minutes.

    python -m eval.meeting_intel [DATA_DIR]

DATA_DIR is the shared data folder or its elitr_dev/ folder (default ../shared/data).
Each transcript is analysed by the service's own domain code (`analysis.analyze`) with the
local encoder in-process, and scored against every minutes file of its meeting:

- Summary: ROUGE-1/2/L F1 (rouge-score, Porter stemming) of the extractive summary against
  each minutes file's summary part, at that part's length: the summary is asked for with
  `summary_words` = the reference's words (as a caller would), and the scores are averaged
  over the meeting's minutes. The summary part is the text after a "Summary of meeting"
  heading when there is one, else the whole minutes, less the header fields (Date:,
  Attendees:, Purpose of meeting:, ...), the "Minutes submitted by" footer and annotators'
  "#" notes. Beside it, the Lead baseline: the transcript's first turns as written, cut at
  the same number of words. "default words" is the summary's length when none is asked.
- To-dos: the minutes lines that assign work. A line is a to-do when it sits under a
  "Next steps", "To-do", "Action items", "Plans" or "Tasks" heading, or when a person,
  organisation or the team is its subject with an obligation or future ("[PERSON6] will
  download ...", "[PERSON9] to show ...", "everybody should fill ...", "we need to ..."),
  or it opens with "Will" (not "Will be"), "Please" or "To" + verb (the minutes' elided
  subject), except under a "Purpose" heading. A reference to-do is found when one of our
  action items matches it: their tasks (content words, the reference less its leading
  names) reach a rapidfuzz token-set ratio >= MATCH_SCORE, and their owners do not
  contradict (when both name people, they share one). On 15 pairs judged by hand this
  accepted all 8 true matches and 1 of the 7 wrong ones; matching whole lines, owners
  included, accepted 4 wrong ones ("[PERSON1] promises to have his work done" - "PERSON1
  Do that"), and token-sort ratio missed short true ones. Recall is found / all;
  precision is the share of our items that match some reference to-do (a lower bound:
  minutes leave out some of what was promised). The baseline predicts every sentence with "will" in
  it, owned by its speaker. "named" counts the reference to-dos whose minutes name who
  will do them ("[PERSON6] will ..."), and "named recall" is the share of those found: the
  service gives only owned items, while many minutes list the team's ("To decide ...").
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from rouge_score import rouge_scorer

from services.common.errors import InvalidInput
from services.common.settings import PROJECT_ROOT
from services.embeddings.model import SentenceEncoder
from services.embeddings.settings import EmbeddingsSettings
from services.meeting_intel import analysis
from services.meeting_intel.sentences import split
from services.meeting_intel.summary import Length
from services.meeting_intel.transcript import parse_text

MATCH_SCORE = 60
_HEADER = re.compile(
    r"^\s*(?:date(?: of the meeting)?|attendees|participants(?: of the meeting)?|present(?: at"
    r" the meeting)?|purpose(?: of (?:the )?meeting)?|the purpose|meeting (?:creator|topic|"
    r"participants|head speaker/moderator)|name of the meeting|organisation|agenda|time and"
    r" place\?|mentioned|there was discussed|it was discussed at the meeting)\s*:?",
    re.IGNORECASE,
)
_FOOTER = re.compile(r"^\s*(?:minutes (?:submitted|approved|wrote)|the minutes was)", re.I)
_SUMMARY_HEADING = re.compile(r"^\s*summary(?: of (?:the )?meeting)?\s*:?\s*$", re.IGNORECASE)
_TODO_HEADING = re.compile(
    r"^\W*(?:next steps?|to-?do'?s?|action items?|plans?|tasks?)\W*$", re.IGNORECASE
)
_BULLET = re.compile(r"^[\s\-•●○*#>]*(?:\d+[.)]\s*)?")
_NAMED = r"@?\[(?:PERSON|ORGANIZATION)\d+\]"
_SUBJECT = rf"(?:{_NAMED}(?:\s*(?:,|and|/)\s*{_NAMED})*|we|everybody|everyone|all|they|he|she)"
_TODO_LINE = re.compile(
    rf"(?:^|:\s*|\bthat\s+){_SUBJECT}\s+(?:(?:still|also|then|now|probably)\s+)?(?:will|to"
    r"|should|needs? to|has to|have to|must|promises? to|is going to|are going to)\b"
    r"|^(?:will(?! be\b)|please|to)\s+[a-z]",
    re.IGNORECASE,
)
_STOP_TEXT = (
    "a an the and or of to in on for with by at from is are be will should would shall must"
    " need needs has have to that this it as"
)
_OWNERS = re.compile(r"^(?:\[PERSON\d+\](?:\s*(?:,|and|/)\s*)?)+")
_STOP = frozenset(_STOP_TEXT.split())


def summary_reference(minutes: str) -> str:
    lines = minutes.splitlines()
    heading = next((i for i, line in enumerate(lines) if _SUMMARY_HEADING.match(line)), None)
    if heading is not None:
        lines = lines[heading + 1 :]
    kept = []
    for line in lines:
        if _FOOTER.match(line):
            break
        if _HEADER.match(line) or line.strip().startswith("#"):
            continue
        text = _BULLET.sub("", line).strip()
        if text:
            kept.append(text)
    return "\n".join(kept)


def todo_reference(minutes: str) -> list[str]:
    todos, under_heading, purpose = [], False, False
    for line in minutes.splitlines():
        if _FOOTER.match(line):
            break
        if _TODO_HEADING.match(line.strip()):
            under_heading = True
            continue
        if re.match(r"^\W*purpose\b", line, re.IGNORECASE):
            purpose = True
            continue
        if purpose and line.lstrip().startswith("--"):
            continue  # "-Purpose of the meeting." then "-- To discuss ...": not work to do
        purpose = False
        text = _BULLET.sub("", line).strip()
        if not text or _HEADER.match(line):
            continue
        if under_heading and not line[:1].isspace() and not line.lstrip().startswith("-"):
            under_heading = False  # a new unindented section ends the list
        if under_heading or _TODO_LINE.search(text):
            todos.append(text)
    return todos


def normalise(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return " ".join(w for w in words if w not in _STOP)


def owners_and_task(text: str) -> tuple[set[str], str]:
    """A minutes to-do's named people ("[PERSON5] and [PERSON11] should ...") and the rest."""
    match = _OWNERS.match(text)
    if not match:
        return set(), normalise(text)
    return set(re.findall(r"PERSON\d+", match.group(0))), normalise(text[match.end() :])


def todo_scores(references: list[str], predicted: list[tuple[str, str]]) -> tuple[int, int]:
    """(references found, predictions that match some reference).

    A prediction (owner, task) matches a reference when their tasks reach MATCH_SCORE and
    their owners do not contradict each other (both named and none in common)."""
    refs = [owners_and_task(r) for r in references]
    preds = [(set(re.findall(r"PERSON\d+", owner)), normalise(task)) for owner, task in predicted]
    if not refs or not preds:
        return 0, 0
    hits = np.array(
        [
            [
                (not ref_owners or not owners or bool(ref_owners & owners))
                and fuzz.token_set_ratio(ref_task, task) >= MATCH_SCORE
                for owners, task in preds
            ]
            for ref_owners, ref_task in refs
        ]
    )
    return int(hits.any(axis=1).sum()), int(hits.any(axis=0).sum())


class LocalEmbed:
    """The `embed` callable the analysis expects, over the local encoder in this process;
    each text is encoded once, so a meeting analysed again for another summary length
    costs no encoding."""

    def __init__(self, encoder: SentenceEncoder):
        self.encoder = encoder
        self.known: dict[str, tuple[np.ndarray, int]] = {}

    async def __call__(self, texts: list[str]):
        fresh = [t for t in dict.fromkeys(texts) if t not in self.known]
        if fresh:
            encoded = self.encoder.encode(fresh)
            pairs = zip(encoded.vectors, encoded.tokens, strict=True)
            self.known.update(zip(fresh, pairs, strict=True))
        vectors = np.vstack([self.known[t][0] for t in texts])
        return vectors, sum(self.known[t][1] for t in texts), self.encoder.model_id


def read_meetings(data_dir: Path) -> list[Path]:
    for root in (data_dir / "elitr_dev", data_dir):
        meetings = sorted(p for p in root.glob("meeting_*") if p.is_dir())
        if meetings:
            return meetings
    sys.exit(f"no meeting_* folders under {data_dir}")


def lead(transcript, words: int) -> str:
    """The first turns as written, cut at `words` words."""
    return " ".join(" ".join(s.text for s in transcript.segments).split()[:words])


def evaluate(meeting: Path, embed: LocalEmbed, scorer) -> dict:
    transcript = parse_text(next(meeting.glob("transcript_*.txt")).read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = asyncio.run(analysis.analyze(transcript, embed))
    seconds = time.perf_counter() - started
    said = split(transcript)
    minutes = [p.read_text(encoding="utf-8") for p in sorted(meeting.glob("minutes_*.txt"))]
    rouge, lead_rouge, lengths = [], [], []
    for reference in filter(None, map(summary_reference, minutes)):
        words = len(reference.split())
        asked = asyncio.run(analysis.analyze(transcript, embed, length=Length(words=words)))
        rouge.append(scorer.score(reference, asked.summary_text))
        lead_rouge.append(scorer.score(reference, lead(transcript, words)))
        lengths.append((words, len(asked.summary_text.split())))
    todos = [t for m in minutes for t in todo_reference(m)]
    items = [(i.owner, i.task) for i in result.action_items]
    baseline = [(s.speaker, s.clean) for s in said if re.search(r"\bwill\b", s.clean, re.I)]
    found, matched = todo_scores(todos, items)
    base_found, base_matched = todo_scores(todos, baseline)
    named = [t for t in todos if owners_and_task(t)[0]]
    keys = ("rouge1", "rouge2", "rougeL")
    return {
        "meeting": meeting.name.removeprefix("meeting_en_"),
        "words": sum(s.words for s in said),
        "seconds": seconds,
        "default": len(result.summary_text.split()),
        "ref_words": sum(w for w, _ in lengths),
        "sum_words": sum(w for _, w in lengths),
        **{k: statistics.mean(r[k].fmeasure for r in rouge) for k in keys},
        **{f"lead_{k}": statistics.mean(r[k].fmeasure for r in lead_rouge) for k in keys},
        "todos": len(todos),
        "found": found,
        "named": len(named),
        "named_found": todo_scores(named, items)[0],
        "items": len(items),
        "matched": matched,
        "base_found": base_found,
        "base_items": len(baseline),
        "base_matched": base_matched,
    }


# (key, header, width, format)
COLUMNS = (
    ("meeting", "meeting", 8, ""),
    ("words", "words", 6, "d"),
    ("seconds", "seconds", 7, ".1f"),
    ("default", "default words", 13, "d"),
    ("ref_words", "ref.words", 9, "d"),
    ("sum_words", "sum.words", 9, "d"),
    ("rouge1", "R-1", 6, ".3f"),
    ("rouge2", "R-2", 6, ".3f"),
    ("rougeL", "R-L", 6, ".3f"),
    ("lead_rouge1", "lead R-1", 8, ".3f"),
    ("lead_rouge2", "lead R-2", 8, ".3f"),
    ("lead_rougeL", "lead R-L", 8, ".3f"),
    ("todos", "to-dos", 6, "d"),
    ("recall", "recall", 6, ".2f"),
    ("named", "named", 5, "d"),
    ("named_recall", "named recall", 12, ".2f"),
    ("items", "items", 5, "d"),
    ("precision", "precision", 9, ".2f"),
    ("base_recall", "base recall", 11, ".2f"),
    ("base_items", "base items", 10, "d"),
    ("base_precision", "base precision", 14, ".2f"),
)


def print_table(rows: list[dict]) -> None:
    for row in rows:
        row["recall"] = row["found"] / max(1, row["todos"])
        row["precision"] = row["matched"] / max(1, row["items"])
        row["named_recall"] = row["named_found"] / max(1, row["named"])
        row["base_recall"] = row["base_found"] / max(1, row["todos"])
        row["base_precision"] = row["base_matched"] / max(1, row["base_items"])
    total: dict = {"meeting": "all"}
    sums = ("words", "seconds", "default", "ref_words", "sum_words", "todos", "found", "items")
    for key in (
        *sums,
        "matched",
        "named",
        "named_found",
        "base_found",
        "base_items",
        "base_matched",
    ):
        total[key] = sum(r[key] for r in rows)
    for key in ("rouge1", "rouge2", "rougeL", "lead_rouge1", "lead_rouge2", "lead_rougeL"):
        total[key] = statistics.mean(r[key] for r in rows)
    total["recall"] = total["found"] / max(1, total["todos"])
    total["precision"] = total["matched"] / max(1, total["items"])
    total["named_recall"] = total["named_found"] / max(1, total["named"])
    total["base_recall"] = total["base_found"] / max(1, total["todos"])
    total["base_precision"] = total["base_matched"] / max(1, total["base_items"])
    print("  ".join(f"{header:>{width}}" for _, header, width, _ in COLUMNS))
    for row in [*rows, total]:
        print("  ".join(f"{row[key]:>{width}{fmt}}" for key, _, width, fmt in COLUMNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared/data"
    )
    args = parser.parse_args()
    meetings = read_meetings(args.data_dir)
    encoder = SentenceEncoder(EmbeddingsSettings().embeddings_tokenizer_path)
    embed = LocalEmbed(encoder)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows, skipped = [], []
    for meeting in meetings:
        try:
            rows.append(evaluate(meeting, embed, scorer))
        except InvalidInput as error:  # what the service would answer: INVALID_ARGUMENT
            skipped.append(f"{meeting.name}: {error}")
    print(f"ELITR dev, {len(rows)} meetings; ROUGE F1 at each reference's length, mean over")
    print("each meeting's minutes, then over meetings; lead = first turns at the same length;")
    print(f"to-dos matched at token-set ratio >= {MATCH_SCORE}; base = every 'will' sentence\n")
    print_table(rows)
    for line in skipped:
        print(f"\nskipped {line}")


if __name__ == "__main__":
    main()
