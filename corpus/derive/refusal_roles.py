"""What each cited ground is doing in a letter: its role (pure functions).

``LetterContext.build(text, request_texts)`` reads a prepared letter once:
where it repeats the requester's words, and what kind of letter it is
(acknowledgement, extension, internal review).  ``role_of`` then gives one
mention of a ground its role from the clause around it.  The README's
"Refusal citations" section describes the same rules in prose.

Order of the tests for one mention (the first that holds decides):

1. ``other_law``: the number belongs to another Act (decided by the caller).
2. ``quoted_request``: the mention sits in the requester's words repeated
   back: a ``>`` line, a block or quotation after "You asked:" / "Your
   request:" / "Applicant question:", reported speech ("You asked whether
   ... section 14"), or a run of at least ``QUOTE_RUN`` words also found in
   the requester's own messages in the thread.
3. ``boilerplate``: a conditional hedge about what the authority will do
   ("we will let you know if ... exemptions apply", "should the information
   not be held, you will receive a notice") or a disclaimer ("should not be
   taken as an indication that the information is or is not held").
4. ``overturned`` / ``not_relied_on``: the clause negates applying the
   ground ("has not applied section 31", "section 12 does not apply to
   environmental information", "neither section 43 nor 41 applies", "I do not
   uphold the use of section 36", "no longer relies on").  Words that undo an
   earlier decision (no longer, withdraw, should not have been, not upheld,
   not correctly applied, the wrong provision), or a negation in a review of
   a ground the earlier decision used, make it ``overturned``.
5. ``upheld``: the letter's own review decision confirms it ("I uphold",
   "is upheld", "was correctly applied", "maintains its position").
6. ``considering``: still being decided ("considering whether", "need more
   time", "may be exempt", "likely to exceed the cost limit", advice on how
   to bring a request within the limit).  In an acknowledgement it is
   ``boilerplate`` instead.
7. ``earlier_decision``: the clause describes an earlier decision ("the
   original response", "in its response of 24 September", "was refused
   under", "the Commissioner found").
8. Otherwise the letter's kind decides: ``boilerplate`` in an
   acknowledgement, ``considering`` in an extension letter, in a review
   ``upheld`` when the earlier decision (as described in the letter or in the
   requester's messages) used the ground and ``relied_on`` when it is new;
   ``relied_on`` everywhere else.

A clause that is only a heading ("Section 40(2):", "Decision on section
36(2)(b):") takes its cues from the sentence that follows it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from corpus.derive.refusal_text import clause_cuts, sentence_spans, tokens

# Words repeated from the requester's messages, in a row, that make a mention quoted.
QUOTE_RUN = 7
_NGRAM = 4

_I = re.I

# ----------------------------------------------------------------------------- quoted request
_LEAD_SPEECH = re.compile(
    r"(?<!information\s)(?<!data\s)(?<!records\s)(?<!documents\s)(?<!material\s)(?<!details\s)(?<!what\s)(?<!which\s)(?<!that\s)"
    r"\b(?:you\s+(?:have\s+|had\s+)?(?:also\s+)?(?:asked|requested|wrote|said|stated|mentioned|referred|refer|say|state|argue[ds]?|"
    r"suggest(?:ed)?|believe|claim(?:ed)?|queried|enquired|put it|question(?:ed)?|complain(?:ed)?|anticipated|expected|predicted|"
    r"assumed|thought|feel|felt|think)|you\s+(?:want|wish|would\s+like|wanted|wished)\s+to\s+(?:know|find\s+out|see)|"
    r"your\s+(?:original\s+|initial\s+|review\s+|follow[- ]up\s+)?(?:request|question|email|e-mail|letter|message|complaint)\s+"
    r"(?:reads|read|stated|said|says|asked)|in\s+your\s+(?:request|email|e-mail|letter|complaint|message)|"
    r"applicant\s+question|which\s+(?:reads|read|said|stated)|the\s+request\s+(?:was|reads|read)|requesting|"
    r"your\s+(?:[\w-]+\s+){0,3}?(?:request|question|complaint|email|e-mail|letter|message|appeal)(?:\s+for\s+(?:an?\s+)?(?:internal\s+)?review)?"
    r"\s+(?:is\s+|was\s+)?(?:about|concern(?:s|ed)?|relat(?:es|ed)\s+to|refer(?:s|red)?\s+to|challeng(?:es|ed)))\b",
    _I,
)
# A lead-in ending a line or followed by a colon: the next paragraph or quotation is the request.
_LEAD_BLOCK = re.compile(
    r"(?:\byou\s+(?:have\s+)?(?:asked|requested|wrote|said|stated)(?:\s+(?:for|us|that))?|\byour\s+(?:original\s+|initial\s+|review\s+)?"
    r"(?:request|question|email|e-mail|query)(?:\s+(?:was|reads|read|is))?|\b(?:original\s+)?request(?:\s+for\s+information)?|"
    r"\binformation\s+requested|\bapplicant\s+question|\bin\s+these\s+terms|\bwhich\s+reads|\brequesting|\bquestion\s*\d*)\s*:",
    _I,
)
_RESPONSE_MARK = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s+)?(?:[A-Z][\w&]*\s+){0,2}(?:response|answer|reply|decision)\b\s*:?|^\s*A\d+\b", _I
)
_QUOTE_SPAN = re.compile(r'"[^"\n]{12,2000}?"|"[^"]{12,3000}?"')


_LEAD_BLOCK_AT_COLON = re.compile(_LEAD_BLOCK.pattern + r"$", _I)


def _lead_blocks(text: str):
    """Matches of ``_LEAD_BLOCK``, found by looking back from each colon (colons are few)."""
    for c in re.finditer(":", text):
        lo = max(0, c.start() - 70)
        m = _LEAD_BLOCK_AT_COLON.search(text, lo, c.end())
        if m:
            yield m


def _paragraph_end(text: str, start: int) -> int:
    m = re.compile(r"\n\s*\n").search(text, start)
    return m.start() if m else len(text)


def _structural_quotes(text: str) -> list[tuple[int, int, str]]:
    """Spans of the letter that repeat the request by their layout."""
    spans: list[tuple[int, int, str]] = []
    if ">" in text:
        pos = 0
        for line in text.split("\n"):
            if line.lstrip().startswith(">"):
                spans.append((pos, pos + len(line), "> line"))
            pos += len(line) + 1
    for m in _lead_blocks(text):
        start = m.end()
        rest = text[start:]
        stripped = rest.lstrip(" \t")
        skip = len(rest) - len(stripped)
        if stripped.startswith("\n"):  # the request follows on the next lines
            body_start = start + skip + 1
            while body_start < len(text) and text[body_start] == "\n":
                body_start += 1
            if body_start >= len(text):
                continue
            if text[body_start] in " \t":  # an indented block, possibly several paragraphs
                end = body_start
                for ln in re.finditer(r"[^\n]*\n?", text[body_start:]):
                    line = ln.group()
                    if not line:
                        break
                    if line.strip() and line[:1] not in " \t":
                        break
                    end = body_start + ln.end()
                spans.append((body_start, end, "indented request"))
                continue
            if text[body_start] == '"':
                close = text.find('"', body_start + 1)
                end = close + 1 if close > 0 else _paragraph_end(text, body_start)
            else:
                end = _paragraph_end(text, body_start)
            first_line = text[body_start:text.find("\n", body_start) if "\n" in text[body_start:] else len(text)]
            if _RESPONSE_MARK.match(first_line):
                continue
            spans.append((body_start, end, "request block"))
        else:  # on the same line: a quotation, or the rest of the line / paragraph
            body_start = start + skip
            if stripped.startswith('"'):
                close = text.find('"', body_start + 1)
                end = close + 1 if close > 0 else _paragraph_end(text, body_start)
            else:
                end = _paragraph_end(text, body_start)
                nl = text.find("\n", body_start)
                while 0 <= nl < end:  # stop at a response line inside the paragraph
                    nxt = text.find("\n", nl + 1)
                    line = text[nl + 1 : nxt if nxt >= 0 else len(text)]
                    if _RESPONSE_MARK.match(line):
                        end = nl
                        break
                    nl = nxt
            spans.append((body_start, end, "request block"))
    for m in _QUOTE_SPAN.finditer(text) if '"' in text else ():
        before = text[max(0, m.start() - 90) : m.start()]
        if _LEAD_SPEECH.search(before) or _LEAD_BLOCK.search(before):
            spans.append((m.start(), m.end(), "quotation"))
    return spans


class _Overlap:
    """Whether words of the letter around a position also occur, in a run, in the requester's messages."""

    def __init__(self, text: str, request_texts) -> None:
        self.text = text
        grams: set[tuple[str, ...]] = set()
        for req in request_texts:
            words = [w for w, _ in tokens(req)]
            grams.update(zip(*(words[i:] for i in range(_NGRAM))))
        self.grams = grams

    def run_at(self, pos: int) -> int:
        """Length of the run of repeated words that holds the word at ``pos`` (read within 600 characters of it)."""
        if not self.grams:
            return 0
        # fast path: no n-gram holding the word at pos is in the request
        lo = max(0, pos - 60)
        near = tokens(self.text[lo : pos + 60])
        k = bisect.bisect_right([st for _, st in near], pos - lo) - 1
        near_words = [w for w, _ in near]
        if k < 0 or not any(
            tuple(near_words[j : j + _NGRAM]) in self.grams for j in range(max(0, k - _NGRAM + 1), k + 1) if j + _NGRAM <= len(near_words)
        ):
            return 0
        lo = max(0, pos - 600)
        toks = tokens(self.text[lo : pos + 600])
        words, grams = [w for w, _ in toks], self.grams
        i = bisect.bisect_right([st for _, st in toks], pos - lo) - 1
        if i < 0:
            return 0
        hits = [tuple(words[j : j + _NGRAM]) in grams for j in range(len(words) - _NGRAM + 1)]

        def covered(k: int) -> bool:
            return any(hits[j] for j in range(max(0, k - _NGRAM + 1), min(k + 1, len(hits))))

        if not covered(i):
            return 0
        a = b = i
        while a > 0 and covered(a - 1):
            a -= 1
        while b + 1 < len(words) and covered(b + 1):
            b += 1
        return b - a + 1


# ----------------------------------------------------------------------------- cues
class Cue:
    """Alternative patterns, each tried only when one of its words is in the text (lower-case substring test).

    The same answer as one big alternation, found much faster on the short clauses it reads.
    """

    __slots__ = ("parts",)

    def __init__(self, *parts: tuple[tuple[str, ...], str]) -> None:
        self.parts = [(keys, re.compile(pattern, _I)) for keys, pattern in parts]

    def search(self, s: str, low: str | None = None) -> re.Match[str] | None:
        low = s.lower() if low is None else low
        for keys, rx in self.parts:
            if any(k in low for k in keys):
                m = rx.search(s)
                if m:
                    return m
        return None


_HEDGE_FUTURE = re.compile(
    r"\b(?:we|you|i)(?:'ll|\s+will|\s+would|\s+shall)\s+(?:\w+\s+){0,2}?(?:let|advise|tell|inform|explain|contact|write|notify|"
    r"confirm|receive|discuss|direct|point|refer|be\s+(?:told|informed|advised|notified|sent|directed))\b|\bwill\s+be\s+explained\b",
    _I,
)
_HEDGE_COND = re.compile(r"\b(?:if|should|where|whether|in\s+the\s+event|in\s+case|unless)\b", _I)
_DISCLAIMER = re.compile(
    r"\bnot\s+be\s+taken\s+(?:as|to)\b|\bindication\s+(?:that|of|as\s+to)\b|\bno\s+inference\b|\bdoes\s+or\s+does\s+not\b|"
    r"\b(?:is|are)\s+or\s+(?:is|are)\s+not\b|\bheld\s+or\s+not\b|\bwhether\s+or\s+not\s+(?:it|we|the)\b",
    _I,
)

_NEG_BEFORE = re.compile(
    r"(?:\bnot|\bnever|n't|\bcannot|\bno\s+longer)\s+(?:(?!(?:are|is|was|were|am)\b)\w+\s+){0,2}?(?:rel(?:y|ied|ies|ying)\s+(?:up)?on|appl(?:y|ied|ies|ying)|"
    r"treat(?:ed|ing)?|regard(?:ed|ing)?|"
    r"us(?:e|ed|ing)|invok(?:e|ed|ing)|cit(?:e|ed|ing)|claim(?:ed|ing)?|engag(?:e|ed|ing)|exempt(?:ed)?\s+(?:under|by)|"
    r"quot(?:e|ed|ing)|mention(?:ed|ing)?|withh(?:eld|old|olding)|redact(?:ed|ing)?|uph[eo]ld\w*|needed\s+to\s+(?:consider|apply|rely)|necessary\s+to\s+(?:apply|rely))\b"
    r"|\b(?:there\s+is|is|are|was)\s+no\b(?!\s+(?:information|record|recorded|data|public))"
    r"|\bwithout\s+(?:relying|applying|using|recourse)\b"
    r"|\bwithdr[ae]w\w*\s+(?:\w+\s+){0,2}?reliance\b"
    r"|\b(?:(?:do|does|did)\s+not|no\s+longer)\s+(?:consider|think|accept|believe|agree)\s+(?:that\s+)?"
    r"|\bnot\s+persuaded\s+that\b|\bnot\s+(?:a|an)\s+(?:refusal|exemption|decision)\s+(?:under|on|in\s+reliance\s+on)\b"
    r"|\b(?:could|might)\s+have\s+(?:\w+\s+)?(?:refused|applied|relied\s+(?:up)?on|withheld|used|cited|claimed|invoked)\b",
    _I,
)
_NEG_AFTER = re.compile(
    r"^(?P<gap>[^;:]{0,70}?)\b(?:(?:does|do|did|will|would|could|can|shall|should|is|are|was|were|has|have|had)\s+(?:\w+\s+)?not|"
    r"doesn't|don't|didn't|cannot|can't|isn't|wasn't|aren't|weren't|won't)\s+(?:\w+\s+){0,2}?"
    r"(?:apply|applies|applied|applicable|engaged|relevant|appropriate|the\s+right|the\s+correct|correctly|properly|prevents?|covers?|"
    r"been\s+(?:applied|used|cited|relied|engaged)|being\s+(?:applied|used|relied|cited)|be\s+(?:applied|used|relied|engaged)|"
    r"rel(?:y|ied)|used|cited)\b"
    r"|^(?P<gap2>[^;:]{0,40}?)\b(?:(?:was|is|were)\s+(?:\w+\s+)?(?:wrong(?:ly)?|incorrect(?:ly)?|in\s+error|misapplied)|"
    r"no\s+longer\s+(?:being\s+)?(?:appl(?:y|ies|ied)|relevant|engaged|rel(?:y|ies|ied)|maintained|pursued|used|cited|claimed)|"
    r"but\s+(?:(?:was|is|has|have)\s+)?not\s+(?:been\s+)?(?:relied|applied|used|cited|engaged|invoked))\b",
    _I,
)
_NEITHER = re.compile(r"\bneither\s+(?!confirm)", _I)
_WEAK_OVERTURN = re.compile(r"\bno\s+longer\b", _I)  # overturns only where an earlier decision exists
_EARLIER_REF = re.compile(
    r"\bdecision\s+notice\b|\b(?:original|initial|previous|earlier|first)\s+(?:\w+\s+)?(?:response|decision|reply|refusal)\b|"
    r"\b(?:our|its|the\s+council's|your)\s+(?:response|letter|reply|decision)\s+(?:of|dated|on)\b|\bpreviously\b|\boriginally\b",
    _I,
)
_OVERTURN = re.compile(
    r"\bwithdr[ae]w|\bshould\s+not\s+have\b|\bshouldn't\s+have\b|\bnot\s+(?:correctly|properly|rightly|validly)\b|"
    r"\bincorrect(?:ly)?\b|\bwrong(?:ly)?\b|\bin\s+error\b|\bnot\s+the\s+(?:right|correct)\b|\bnot\s+appropriate\b|\boverturn|"
    r"\bnot\s+(?:uphold|upheld)\b|\bcould\s+not\s+be\s+engaged\b|\bnot\s+entitled\b|\bset\s+aside\b|\breverse",
    _I,
)
_PI_GAP = re.compile(r"public\s+interest|\btest\b|\bharm\b|prejudice|\bnot\s+hold\b|\bby\s+virtue\s+of\b|\bbecause\s+of\b|\bdue\s+to\b|\bowing\s+to\b", _I)

_UPHOLD = re.compile(
    r"\b(?:I|we)\s+(?:\w+\s+){0,2}?(?:uphold|upheld)\b|\b(?:is|are|be|being|remains?)\s+(?:therefore\s+|hereby\s+|thus\s+)?upheld\b|"
    r"\b(?:correctly|properly|rightly|appropriately|validly|reasonably|lawfully)\s+(?:been\s+)?(?:applied|engaged|relied|cited|used|refused|withheld)\b|"
    r"\bmaintain(?:s|ed|ing)?\s+(?:its|our|the|their|my)\s+(?:position|reliance|decision|view|refusal)\b|\bconfirm\s+the\s+(?:original\s+)?decision\b|"
    r"\buphold(?:s|ing)?\s+(?:the|its|our|this|that|his|her)\b|\b(?:should|will|is\s+to)\s+be\s+maintained\b",
    _I,
)
_UPHOLD_REVIEW = re.compile(
    r"\b(?:I|we)\s+(?:\w+\s+){0,2}?(?:agree|am\s+satisfied|are\s+satisfied|have\s+concluded|concur)\s+(?:that\s+)?|"
    r"\bremains?\s+(?:withheld|exempt|redacted)\b|\bwas\s+(?:correct|justified|right)\b",
    _I,
)

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
_CONSIDER = Cue(
    (("consider", "assess", "decid", "examin", "consult", "looking", "seeking", "weigh", "reviewing"),
     r"\b(?:are|is|am|be|being|still|currently|now)\s+(?:still\s+|currently\s+|now\s+|actively\s+)?(?:considering|assessing|deciding|"
     r"examining|consulting|looking\s+at|seeking|weighing|reviewing\s+whether)\b"),
    (("not yet", "yet to"),
     r"\bnot\s+yet\s+(?:decided|finished|completed|concluded|reached|been\s+able)\b|\byet\s+to\s+(?:decide|conclude|complete|reach)\b"),
    (("time",), r"\b(?:need|needs|needed|require|requires|required)\s+(?:more|further|extra|additional)\s+time\b"),
    (("will", "shall"), r"\b(?:will|shall)\s+(?:then\s+)?(?:decide|determine|assess)\b"),
    (("whether",),
     r"(?<!have\s)(?<!has\s)(?<!had\s)\b(?:decide|determine|assess|establish|consider|deciding|determining|assessing)\s+whether\b|"
     r"\bwhether\b[^.;]{0,80}?\b(?:is|are)\s+engaged\b"),
    (("may", "might", "could"),
     r"(?-i:\b(?:may|might|could))\s+(?:well\s+|also\s+|possibly\s+)?(?:be\s+)?(?:exempt|appl|engag|relevant|covered|subject|withheld|"
     r"refus|fall|need|necessary|have\s+to|rely|use|claim|cite|exceed|invok)\w*"),
    (("anticipate", "expect", "envisage", "foresee"),
     r"\b(?:anticipate|expect|envisage|foresee)[sd]?\s+(?:that\s+)?[^.;]{0,60}?\b(?:will|would|may|is\s+likely\s+to)\s+(?:apply|be\s+engaged|be\s+exempt|be\s+withheld)"),
    (("likely",),
     r"\blikely\s+(?:that\s+)?(?:it|this|your\s+request|the\s+request|the\s+cost|compliance|answering)\s+(?:would|will)\b|"
     r"\b(?:is|are|be)\s+likely\s+to\s+(?:exceed|apply|be\s+exempt|engage)\b"),
    (("potentially",), r"\bpotentially\s+(?:exempt|appl|engag|relevant)"),
    (("need to consider",), r"\bneed\s+to\s+consider\b"),
    (("within",),
     r"\b(?:to|so\s+as\s+to|in\s+order\s+to|so\s+(?:that\s+)?we\s+(?:can|could)|for\s+us\s+to)\s+(?:deal\s+with|answer|bring|keep|process|"
     r"respond\s+to|handle|comply\s+with|help)\b[^.;]{0,60}?\bwithin\b"),
    (("believe",), r"\bbelieve\s+(?:that\s+)?[^.;]{0,80}?\b(?:is|are|may\s+be)\s+(?:relevant|engaged)\b"),
)

_HISTORY = Cue(
    (("originally", "initially", "previously"), r"\b(?:originally|initially|previously)\b"),
    (("original", "initial", "previous", "earlier", "prior", "first"),
     r"\b(?:original|initial|previous|earlier|prior|first)\s+(?:\w+\s+)?(?:response|reply|decision|letter|answer|refusal|handling|notice|"
     r"position|e-?mail)\b"),
    (("response", "reply", "letter", "decision", "mail", "notice", "refusal"),
     r"\b(?:response|reply|letter|decision|email|e-mail|notice|refusal)\s+(?:of|dated|sent(?:\s+on)?|on|issued\s+on)\s+"
     rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}|{_MONTH}\s+\d|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|the\s+\d)|"
     r"\b(?:response|reply|letter|decision|refusal)\b[^.;]{0,40}?\b(?:withheld|refused|applied|cited|relied|stated|said|explained|advised|"
     r"told|used)\b"),
    (("was ", "were ", "had been"),
     r"\b(?:was|were|had\s+been)\s+(?:\w+\s+)?(?:refused|withheld|rejected|declined|answered|redacted|upheld|applied|cited|relied|"
     r"turned\s+down)\b"),
    (("said", "stated", "explained", "told", "advised", "informed", "wrote", "refused", "withheld", "applied", "cited", "relied",
      "decided", "answered"),
     r"\b(?:we|it|you|they|he|she|the\s+(?:council|force|trust|department|university|authority|board|service|ministry|office|school|college))\s+"
     r"(?:also\s+)?(?:said|stated|explained|told|advised|informed|wrote|refused|withheld|applied|cited|relied|decided|answered)\b"),
    (("commissioner", "ico", "tribunal", "decision notice"),
     r"\b(?:Commissioner|ICO|Tribunal|decision\s+notice)\b[^.;]{0,80}?\b(?:found|decided|agreed|concluded|upheld|ruled|accepted|required|said)\b"),
    (("refused", "withheld", "applied", "cited", "relied", "decided", "rejected"),
     rf"\b(?:on|in)\s+(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?{_MONTH}(?:\s+\d{{4}})?\b[^.;]{{0,80}}?\b(?:refused|withheld|applied|cited|relied|"
     r"decided|rejected)\b"),
    (("reviewed",), r"\bI\s+have\s+(?:now\s+)?reviewed\s+(?:the|our|its|your)\b"),
)

# ----------------------------------------------------------------------------- letter kinds
_ACK = re.compile(
    r"\backnowledg|\bconfirm\s+receipt|\b(?:have|has|we)\s+received\s+your|\bwas\s+received\s+on|\blogged\b|\breference\s+(?:number|is)\b|"
    r"\b(?:will|shall)\s+(?:aim\s+to\s+|now\s+)?(?:respond|reply|send\s+you\s+a)|\baim\s+to\s+(?:respond|reply|send)|\brespond\s+within\b|"
    r"\bresponse\s+within\b|\b(?:20|twenty)\s+working\s+days\b",
    _I,
)
_DECISION = re.compile(
    r"\bwithheld\b|\bwithholding\b|\bexempt\s+(?:from|under|by)\b|\b(?:is|are)\s+exempt\b|\brefus(?:e|ed|ing)\s+(?:your|the|this|it)\b|"
    r"\bis\s+refused\b|\bnot\s+obliged\b|\battached\b|\benclosed?\b|\bplease\s+find\b|\bplease\s+see\b|\bbelow\b|\bcan\s+confirm\b|"
    r"\b(?:do|does|did)\s*(?:not|n't)\s+hold\b|\bhold\s+no\b|\bneither\s+confirms?\b|\bredact|\bremoved\b|\b(?:uphold|upheld)\b|"
    r"\bin\s+total\b|\bwere\s+(?:issued|recorded|received)\b|\bvexatious\b|\bnot\s+held\b|\bno\s+(?:recorded|relevant)\s+information\b|"
    r"\bapplies\b",
    _I,
)
_EXTENSION = Cue(
    (("time",), r"\b(?:more|further|extra|additional)\s+time\b"),
    (("extend",), r"\bextend(?:ing|ed)?\s+(?:the\s+)?(?:time|deadline|date|period|response)"),
    (("section 10", "regulation 7"), r"\bsection\s+10\s*\(3\)|\bregulation\s+7\s*\(1\)"),
    (("not yet", "still"),
     r"\bnot\s+yet\s+(?:decided|finished|completed)\b|\b(?:we|I)\s+(?:are|am)\s+still\s+(?:considering|deciding)\b|"
     r"\bstill\s+(?:considering|deciding)\s+(?:whether|if|the|your|how)\b"),
    (("consulting",), r"\bconsulting\b"),
    (("again",), r"\bwill\s+write\s+(?:to\s+you\s+)?again\b"),
    (("able to",), r"\bnot\s+been\s+able\s+to\s+(?:complete|respond|finish|reply)\b|\bunable\s+to\s+(?:complete|respond|reply)\b[^.]{0,40}\bwithin\b"),
    (("need to consider",), r"\bneed\s+to\s+consider\s+the\s+public\s+interest\b"),
)
_FIRM_REFUSAL = re.compile(
    r"\b(?:is|are|has\s+been|have\s+been|is\s+being|are\s+being)\s+(?:therefore\s+)?(?:withheld|refused|exempt)\b|\bwe\s+are\s+(?:withholding|refusing)\b|"
    r"\brefus(?:e|es|ed|ing)\s+(?:your|the|this)\s+request\b|\bnot\s+obliged\b|\bneither\s+confirms?\b|\bdoes\s+not\s+hold\b",
    _I,
)
_REVIEW = re.compile(
    r"\binternal\s+review\b|\breview\s+of\s+(?:your|our|the|request|FOI|the\s+council)|\bI\s+have\s+(?:now\s+)?(?:reviewed|carried\s+out|"
    r"conducted|completed)\b|\breviewer\b|\breview\s+panel\b|\breconsider",
    _I,
)
_REVIEW_ASKED = re.compile(
    r"\binternal\s+review\b|\breview\s+(?:of\s+)?(?:your|the|this|my)\s+(?:decision|response|refusal|handling|request)|"
    r"\b(?:request|ask|asking|want|like)\s+(?:for\s+)?(?:a|an)\s+review\b|\bplease\s+review\b|\b(?:carry|carried)\s+out\s+(?:a|an)\s+review\b|"
    r"\breview\s+please\b|\breconsider",
    _I,
)
_GLOBAL_DECISION = re.compile(r"\b(?:decision|response|refusal|outcome|original)\b", _I)


class LetterContext:
    """What a whole letter tells about its mentions; each feature is worked out the first time it is needed."""

    def __init__(self, text: str, request_texts=()) -> None:
        self.text = text
        self.requests = [r for r in request_texts if r]
        self.sentences = sentence_spans(text)
        self._starts = [a for a, _ in self.sentences]
        self.quotes = _structural_quotes(text)
        self.overlap = _Overlap(text, self.requests) if self.requests else None
        self._own: str | None = None
        self._kinds: tuple[bool, bool] | None = None
        self._review: bool | None = None
        self._earlier: bool | None = None
        self._numbers: frozenset[str] | None = None
        self._clauses: dict[tuple[int, int], list[int]] = {}
        self._cue_cache: dict[str, _Cues] = {}

    @classmethod
    def build(cls, text: str, request_texts=()) -> LetterContext:
        return cls(text, request_texts)

    @property
    def own(self) -> str:
        """The letter with the requester's repeated words blanked out."""
        if self._own is None:
            self._own = _blank(self.text, self.quotes)
        return self._own

    def _letter_kind(self) -> tuple[bool, bool]:
        if self._kinds is None:
            own = self.own
            extension = bool(_match(_EXTENSION, own)) and not _FIRM_REFUSAL.search(own)
            ack = not extension and bool(_match(_ACK, own)) and not _DECISION.search(own)
            self._kinds = (ack, extension)
        return self._kinds

    @property
    def ack(self) -> bool:
        """An acknowledgement: says the request was received and when to expect an answer, and decides nothing."""
        return self._letter_kind()[0]

    @property
    def extension(self) -> bool:
        """An extension or holding letter: more time is needed, nothing refused yet."""
        return self._letter_kind()[1]

    @property
    def review(self) -> bool:
        """An internal review (or reconsideration), by its own words or because the requester asked for one."""
        if self._review is None:
            asked = bool(self.requests) and bool(_match(_REVIEW_ASKED, self.requests[-1]))
            self._review = asked or bool(_match(_REVIEW, self.own))
        return self._review

    @property
    def earlier(self) -> bool:
        """The letter refers to an earlier decision (or is a review)."""
        if self._earlier is None:
            self._earlier = self.review or bool(_match(_EARLIER_REF, self.own))
        return self._earlier

    @property
    def requested_numbers(self) -> frozenset[str]:
        """Section and regulation numbers the requester's messages name."""
        if self._numbers is None:
            self._numbers = frozenset(
                m.group(1) for r in self.requests for m in _REQUESTED_NUMBER.finditer(r)
            )
        return self._numbers

    def sentence_of(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, pos) - 1
        return self.sentences[max(i, 0)] if self.sentences else (0, len(self.text))

    def cues_of(self, whole: str) -> _Cues:
        cues = self._cue_cache.get(whole)
        if cues is None:
            cues = self._cue_cache[whole] = _Cues(whole)
        return cues

    def clause_of(self, pos: int) -> tuple[int, int]:
        sent = self.sentence_of(pos)
        cuts = self._clauses.get(sent)
        if cuts is None:
            cuts = self._clauses[sent] = clause_cuts(self.text, sent)
        i = bisect.bisect_right(cuts, pos) - 1
        return cuts[i] if i >= 0 else sent[0], cuts[i + 1] if i + 1 < len(cuts) else sent[1]

    def quoted(self, pos: int, end: int) -> str | None:
        for a, b, why in self.quotes:
            if a <= pos < b:
                return why
        if self.overlap is not None and self.overlap.run_at(pos) >= QUOTE_RUN:
            return "repeats the request"
        return None


_REQUESTED_NUMBER = re.compile(r"(?:section|s\.?|regulation|reg\.?)\s*(\d{1,2}[A-Z]?)", _I)


def _blank(text: str, spans) -> str:
    if not spans:
        return text
    chars = list(text)
    for a, b, _ in spans:
        for i in range(a, min(b, len(chars))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


@dataclass(slots=True)
class Scope:
    """The clause around a mention: text before the mention and text after it."""

    before: str
    after: str
    whole: str
    heading: bool = False  # the mention heads a paragraph ("Section 43(2): ..."), which is read whole


def scope_of(ctx: LetterContext, pos: int, end: int) -> Scope:
    a, b = ctx.clause_of(pos)
    before, after, whole = ctx.text[a:pos], ctx.text[end:b], ctx.text[a:b]
    words = re.findall(r"[A-Za-z]{3,}", before + " " + after)
    colon = ctx.text[b : b + 2].lstrip().startswith(":") or ctx.text[a:b].rstrip().endswith(":")
    if colon and len([w for w in words if w.lower() not in _HEADING_WORDS]) < 3:
        # a heading ("Section 40(2):", "Decision on section 36(2)(b):"): read on
        # to the end of its paragraph (or of the next one, when it stands alone)
        stop = _paragraph_end(ctx.text, b)
        more = ctx.text[b:stop]
        if not more.strip(" :-\n") and stop < len(ctx.text):
            start = stop
            while start < len(ctx.text) and ctx.text[start] in " \t\n":
                start += 1
            more = ctx.text[start : _paragraph_end(ctx.text, start)]
        more = more[:_HEADING_READ]
        return Scope(before, after + " " + more, whole + " " + more, True)
    return Scope(before, after, whole)


_HEADING_READ = 700  # characters of a headed paragraph read for its cues
# A headed paragraph that rejects the ground it is about: "Section 43(2): ... I do not accept that disclosure would ..."
_PARA_NEG = re.compile(
    r"\b(?:I|we)\s+(?:do\s+not|don't|am\s+not|are\s+not)\s+(?:accept|consider|agree|satisfied|persuaded|believe)\b|"
    r"\b(?:is|was)\s+not\s+engaged\b|\b(?:does|did)\s+not\s+apply\b|\bno\s+longer\s+(?:applies|engaged|relied|maintained)\b",
    _I,
)


_HEADING_WORDS = {"decision", "section", "sections", "regulation", "regulations", "the", "and", "exemption", "exception", "on", "under"}


# Lower-case words one of which each cue needs: a substring test is far cheaper than the pattern.
_KEYS: dict[re.Pattern, tuple[str, ...]] = {}


def _needs(rx: re.Pattern, *keys: str) -> re.Pattern:
    _KEYS[rx] = keys
    return rx


def _match(rx: re.Pattern[str] | Cue, s: str, low: str | None = None) -> str | None:
    if isinstance(rx, Cue):
        m = rx.search(s, low)
        return " ".join(m.group().split())[:60] if m else None
    keys = _KEYS.get(rx)
    if keys is not None:
        low = s.lower() if low is None else low
        if not any(k in low for k in keys):
            return None
    m = rx.search(s)
    return " ".join(m.group().split())[:60] if m else None


_needs(_HEDGE_FUTURE, "will", "would", "shall", "'ll")
_needs(_HEDGE_COND, "if", "should", "where", "whether", "event", "case", "unless")
_needs(_DISCLAIMER, "taken", "indication", "inference", "does not", " or ")
_needs(_OVERTURN, "withdr", "should", "not", "incorrect", "wrong", "error", "overturn", "aside", "revers")
_needs(_WEAK_OVERTURN, "no longer")
_needs(_UPHOLD, "uph", "correctly", "properly", "rightly", "appropriately", "validly", "reasonably", "lawfully", "maintain", "confirm the")
_needs(_UPHOLD_REVIEW, "agree", "satisfied", "concluded", "concur", "remain", "was correct", "was justified", "was right")
_needs(_ACK, "acknowledg", "receipt", "received", "logged", "reference", "respond", "reply", "send you", "working days")
_needs(_REVIEW, "review", "reconsider")
_needs(_REVIEW_ASKED, "review", "reconsider")


class _Cues:
    """The cues of one clause, each looked for the first time it is asked about (shared by a list's numbers)."""

    __slots__ = ("whole", "low", "found")

    def __init__(self, whole: str) -> None:
        self.whole, self.low = whole, whole.lower()
        self.found: dict[re.Pattern[str] | Cue, str | None] = {}

    def __call__(self, rx: re.Pattern[str] | Cue) -> str | None:
        if rx not in self.found:
            self.found[rx] = _match(rx, self.whole, self.low)
        return self.found[rx]


def role_of(ctx: LetterContext, pos: int, end: int, *, phrase_only: bool = False) -> tuple[str, str | None]:
    """(role, cue) for the mention at ``pos``..``end`` of ``ctx.text`` (not other-law; the caller decides that)."""
    why = ctx.quoted(pos, end)
    if why is None:
        a, _ = ctx.clause_of(pos)
        head = ctx.text[a:pos].lower()
        lead = _LEAD_SPEECH.search(ctx.text, a, pos) if "you" in head or "request" in head or "question" in head else None
        if lead and lead.group()[:3].lower() == "you" and _RELATIVE_BEFORE.search(ctx.text, a, lead.start()):
            lead = None  # "the bids you have asked for engage section 43": the object of the request, not its words
        if lead and _REVIEW_OBJECT.search(ctx.text, lead.end(), pos):
            return "earlier_decision", "the decision you asked to be reviewed"
        if lead and (_INDIRECT_QUESTION.match(ctx.text, lead.end(), pos) or not _DECISION_PIVOT.search(ctx.text, lead.end(), pos)):
            # "you want to know whether any information was withheld under section 40": the question, not an answer
            why = " ".join(lead.group().split())
    if why is not None:
        return "quoted_request", why
    sc = scope_of(ctx, pos, end)
    cues = ctx.cues_of(sc.whole)
    if cues(_HEDGE_COND) and cues(_HEDGE_FUTURE):
        return "boilerplate", cues(_HEDGE_FUTURE)
    cue = cues(_DISCLAIMER)
    if cue:
        return "boilerplate", cue
    neg = _negation(sc, phrase_only)
    if not neg and sc.heading and not phrase_only:
        neg = _match(_PARA_NEG, sc.after) or _match(_OVERTURN, sc.after)
    if neg:
        overturn = cues(_OVERTURN) or (ctx.earlier and cues(_WEAK_OVERTURN))
        if overturn:
            return "overturned", overturn
        return ("overturned" if ctx.review else "not_relied_on"), neg
    if ctx.review:
        cue = cues(_UNDO)
        if cue:  # "I have decided to overturn the original decision in relation to section 12"
            return "overturned", cue
    cue = cues(_UPHOLD)
    if cue:
        return "upheld", cue
    cue = cues(_CONSIDER)
    if cue:
        return ("boilerplate" if ctx.ack and not _UNDER_WAY.match(cue) else "considering"), cue
    cue = cues(_HISTORY)
    if cue:
        still = cues(_CONTINUES)
        if still:  # "found that the Council was entitled to rely on section 36, which remain withheld"
            return ("upheld" if ctx.review else "relied_on"), still
        if ctx.review and cues(_RELEASED):  # "I have decided to release the report previously withheld under ..."
            return "overturned", cues(_RELEASED)
        return "earlier_decision", cue
    if ctx.review:
        cue = cues(_UPHOLD_REVIEW)
        if cue:
            return "upheld", cue
        return "relied_on", None  # the caller upgrades a ground the earlier decision used to upheld
    if ctx.ack:
        return "boilerplate", "acknowledgement"
    if ctx.extension:
        return "considering", "extension letter"
    return "relied_on", None


_UNDO = re.compile(r"\b(?:overturn\w*|revers(?:e|ed|ing)|set\s+aside|withdr[ae]w\w*|rescind\w*)\b", _I)
_needs(_UNDO, "overturn", "revers", "aside", "withdr", "rescind")
_CONTINUES = re.compile(
    r"\b(?:remains?|continues?\s+to\s+be|is\s+still|are\s+still)\s+(?:withheld|exempt|redacted|refused)\b|"
    r"\bcontinue\s+to\s+(?:withhold|rely|apply)\b",
    _I,
)
_RELEASED = re.compile(
    r"\b(?:decided|agreed|able)\s+to\s+(?:release|disclose|provide)\b|\b(?:is|are|has\s+been|have\s+been)\s+(?:now\s+)?"
    r"(?:released|disclosed)\b|\bnow\s+(?:released|disclosed|attached|enclosed|provided)\b",
    _I,
)
_needs(_CONTINUES, "remain", "continue", "still")
_needs(_RELEASED, "release", "disclose", "provide", "now ")

_UNDER_WAY = re.compile(r"(?:are|is|am|still|currently|now)\b", _I)  # "are currently assessing", not "may be exempt"
_INDIRECT_QUESTION = re.compile(r"\s*(?:whether|if|how|what|which|why|when|who)\b", _I)
_RELATIVE_BEFORE = re.compile(r"\b(?:the|these|those|this|that|all|any|each)\s+(?:[\w-]+\s+){1,2}$", _I)
_REVIEW_OBJECT = re.compile(r"\b(?:review|reconsider)\w*\b", _I)

_DECISION_PIVOT = re.compile(
    r"\b(?:which|but|however|and\s+(?:we|it|this|the)|is\s+exempt|are\s+exempt|withh\w*|refus\w*|appl(?:y|ies)|"
    r"engaged|manifestly|vexatious|we\s+(?:have|are|will|do|consider)|it\s+(?:is|was)|(?:is|are|was|were)\s+(?:not|being))\b",
    _I,
)


def _negation(sc: Scope, phrase_only: bool) -> str | None:
    tail = sc.before[-140:]
    negations = list(_NEG_BEFORE.finditer(tail))
    m = negations[-1] if negations else None  # the last negation before the mention
    if m is not None:
        gap = tail[m.end():]
        if len(gap) <= 60 and not _PI_GAP.search(gap):
            return " ".join(m.group().split())
    n = _NEITHER.search(sc.before)
    if n and re.search(r"\bnor\b", sc.after[:80], _I) or n and len(sc.before) - n.end() < 40 and re.search(r"\bnor\b", sc.before[n.end():], _I):
        return "neither ... nor"
    if not phrase_only:
        a = _NEG_AFTER.search(sc.after)
        if a:
            gap = a.group("gap") if a.group("gap") is not None else a.group("gap2") or ""
            if not _PI_GAP.search(gap):
                return " ".join(a.group()[len(gap):].split())[:60]
    return None


def global_review_decision(ctx: LetterContext) -> str | None:
    """``upheld`` / ``overturned`` when a review letter decides the earlier response as a whole
    ("the original decision is upheld") in a clause that names no ground."""
    if not ctx.review:
        return None
    found = None
    own = ctx.own
    for a, b in ctx.sentences:
        s = own[a:b]
        if re.search(r"\b(?:section|regulation|s\.?\s?\d|reg\.?\s?\d)", s, _I):
            continue
        if not _GLOBAL_DECISION.search(s):
            continue
        if _OVERTURN.search(s) and re.search(r"\b(?:decision|response|refusal)\b", s, _I):
            return "overturned"
        if _UPHOLD.search(s) and not re.search(r"\bnot\s+uph", s, _I):
            found = "upheld"
    return found


# ----------------------------------------------------------------------------- letter-level passes over the rows
# Rows are the caller's lists: [regime, provision, section, subsection, ground, cited_by, pos, role, cue].
_ROLE, _CUE, _POS, _SECTION, _GROUND, _BY = 7, 8, 6, 2, 4, 5

_HYPOTHETICAL = re.compile(r"\b(?:if|were|should|whether)\b[^.;]{0,80}?\b(?:held|exist\w*|hold)\b", _I)
_MODAL_CUE = re.compile(r"(?:may|might|could|would)\b", _I)


def ncnd_hypotheticals(ctx: LetterContext, rows: list[list]) -> None:
    """In a letter that neither confirms nor denies, "if it were held, it could be exempt under
    section 35" is a ground relied on for that refusal, not one still being considered."""
    if not any(r[_GROUND] == "neither confirm nor deny" and r[_ROLE] in ("relied_on", "upheld") for r in rows):
        return
    for r in rows:
        if r[_ROLE] == "considering" and r[_CUE] and _MODAL_CUE.match(r[_CUE]):
            a, b = ctx.sentence_of(r[_POS])
            if _HYPOTHETICAL.search(ctx.text, a, b):
                r[_ROLE], r[_CUE] = "relied_on", "would be exempt if held (neither confirm nor deny)"


_ANAPHORIC_NEG = re.compile(
    r"\b(?:we|I|it|the\s+\w+)\s+(?:have|has|had|did|do|does|will|shall)\s*(?:not|n't)\s+(?:\w+\s+)?"
    r"(?:applied|apply|relied\s+(?:up)?on|rely\s+(?:up)?on|used|use|cited|claimed|invoked)\s+"
    r"(?:it|this|that|them|these|those|either|(?:this|that|the|these|those)\s+(?:exemptions?|exceptions?|sections?|regulations?|provisions?))\b|"
    r"\bdecided\s+(?:not\s+to\b|against\b|(?:that\s+)?(?:this|it|that)\s+(?:was|is|would\s+be)\s+(?:not\s+necessary|unnecessary|not\s+needed)\b)|"
    r"^\W*(?:we|I)\s+(?:have|did|do)\s*(?:not|n't)\s*[.!]",
    _I,
)


def anaphoric_negations(ctx: LetterContext, rows: list[list]) -> None:
    """"Section 21 applies only where ... That is not the case here, so we have not applied it.":
    a sentence that names no ground and says "we have not applied it" takes back the grounds of the
    sentence before it."""
    by_sentence: dict[tuple[int, int], list[list]] = {}
    for r in rows:
        by_sentence.setdefault(ctx.sentence_of(r[_POS]), []).append(r)
    # "We also looked at regulation 12(5)(e), but we have not applied it": a later clause of the same sentence
    for sent, these in by_sentence.items():
        last = max(r[_POS] for r in these)
        a, b = ctx.clause_of(last)
        if b < sent[1]:
            m = _ANAPHORIC_NEG.search(ctx.own, b, sent[1])
            if m:
                for r in these:
                    if r[_ROLE] == "relied_on" and r[_CUE] is None:
                        r[_ROLE], r[_CUE] = ("overturned" if ctx.review else "not_relied_on"), " ".join(m.group().split())[:60]
    spans = ctx.sentences
    for i in range(len(spans) - 1):
        here, nxt = spans[i], spans[i + 1]
        if here not in by_sentence or nxt in by_sentence:
            continue
        m = _ANAPHORIC_NEG.search(ctx.own[nxt[0]:nxt[1]])
        if not m:
            continue
        for r in by_sentence[here]:
            if r[_ROLE] == "relied_on" and r[_CUE] is None:
                r[_ROLE], r[_CUE] = ("overturned" if ctx.review else "not_relied_on"), " ".join(m.group().split())[:60]


_DECIDING_WORDS = re.compile(
    r"withh|exempt|refus|redact|remov|appl|\brel(?:y|ied|ies|iance|ying)\b|engag|not\s+obliged|confirm\s+n?or\s+den|"
    r"uph[eo]ld|\bheld\b|\bhold\b|exce(?:ed|ss)|vexatious|\bcost|\bunder\b|\bby\s+virtue\b|\bcovered\b|\bprotected\b",
    _I,
)


_SELF_DECIDING = ("not held", "neither confirm nor deny")  # phrases that are themselves the decision


def bare_mentions_follow_the_decision(ctx: LetterContext, rows: list[list]) -> None:
    """A ground the letter expressly drops ("section 36 is no longer maintained") keeps that role where
    it is mentioned again only in passing ("..., which section 36 requires"): a clause without any
    word of applying, withholding or refusing decides nothing ("the qualified person's opinion
    was not obtained" for section 36, read from its phrase)."""
    numbered: dict[tuple[tuple[int, int], str], list] = {}  # (sentence, ground) -> its first numbered mention
    for r in rows:
        if r[_BY] == "number":
            numbered.setdefault((ctx.sentence_of(r[_POS]), r[_GROUND]), r)
    for r in rows:  # "we told you that the review was exempt under section 22, as it was intended for publication"
        if r[_BY] == "phrase" and r[_ROLE] == "relied_on" and r[_CUE] is None and r[_GROUND] not in _SELF_DECIDING:
            n = numbered.get((ctx.sentence_of(r[_POS]), r[_GROUND]))
            if n is not None and n[_ROLE] != "relied_on":
                r[_ROLE], r[_CUE] = n[_ROLE], n[_CUE]
    dropped = {(r[0], r[_SECTION]): r for r in rows if r[_ROLE] in ("overturned", "not_relied_on") and r[_BY] == "number"}
    if not dropped:
        return
    for r in rows:
        d = dropped.get((r[0], r[_SECTION]))
        if d is None or r[_ROLE] != "relied_on" or r[_CUE] is not None or r[_GROUND] in _SELF_DECIDING:
            continue
        a, b = ctx.clause_of(r[_POS])
        if not _DECIDING_WORDS.search(ctx.text[a:r[_POS]] + " " + ctx.text[r[_POS]:b].split(None, 1)[-1]):
            r[_ROLE], r[_CUE] = d[_ROLE], "mentioned in passing after " + (d[_CUE] or d[_ROLE])

