"""Words → features for the embedded router: stems, plus shared concepts for software-task vocabulary.

Route descriptions and prompts rarely use the same words ("fix this crash" vs "debugging runtime
failures"). Mapping both sides onto a small set of concepts (a hand-written thesaurus of how people
ask coding assistants for things) lets them meet without a model. The table is general vocabulary,
not tuned to any route set: a route that uses none of these words still matches on its own stems.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache, reduce
from itertools import chain
from operator import itemgetter, or_
from typing import NamedTuple

#: concept → surface words and phrases (lowercase; single words are stemmed before lookup).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "c:create": ("write", "wrote", "written", "create", "generate", "implement", "build", "scaffold",
                 "add", "make", "develop", "code up", "boilerplate", "new", "produce", "compose",
                 "construct", "author", "set up", "stub"),
    "c:code": ("code", "function", "method", "class", "script", "program", "module", "snippet",
               "endpoint", "component", "library", "api", "cli", "algorithm", "regex", "regular expression",
               "query", "sql", "decorator", "generator", "loop", "variable", "interface", "schema",
               "struct", "enum", "app", "application", "handler", "migration", "workflow", "lambda", "callback", "async", "await", "compiler", "makefile",
               "codebase", "repo", "repository", "source", "implementation", "feature", "flag",
               "recursive", "recursion", "type", "object", "pointer", "closure", "thread", "syntax",
               "dockerfile", "yaml", "json", "html", "css", "framework", "package", "dependency",
               "unit test", "pull request", "diff", "commit", "refactor", "snake case", "camel case"),
    "c:lang": ("python", "go", "golang", "rust", "typescript", "javascript", "java", "kotlin", "swift",
               "ruby", "php", "bash", "shell", "c++", "cpp", "c#", "haskell", "scala", "elixir", "lua",
               "perl", "nix", "react", "vue", "django", "flask", "node", "nodejs", "zod", "pytest",
               "actix", "spring", "terraform", "powershell", "sql", "zig", "ocaml", "clojure", "dart"),
    "c:test": ("test", "tests", "unit test", "pytest", "spec", "coverage", "assertion", "mock", "fixture"),
    "c:modify": ("refactor", "rewrite", "restructure", "clean up", "simplify", "modify", "change",
                 "update", "migrate", "rename", "port", "convert to", "optimize", "improve"),
    "c:fix": ("fix", "patch", "repair", "resolve", "correct", "solve", "workaround", "hotfix"),
    "c:error": ("bug", "error", "exception", "crash", "fail", "failure", "traceback", "errno", "stack trace",
                "stacktrace", "segfault", "segmentation fault", "panic", "broken", "not working",
                "doesn't work", "does not work", "exit code", "leak", "hang", "hangs", "freeze", "timeout",
                "time out", "times out", "timed out", "connection reset", "refused", "denied", "oom",
                "out of memory", "killed", "core dump", "deadlock", "race condition", "nullpointer",
                "nullpointerexception", "typeerror", "valueerror", "keyerror", "modulenotfounderror",
                "importerror", "undefined", "null", "nonetype", "502", "500", "404", "137", "regression", "exit", "exits", "exited", "break", "breaks", "broke", "abort", "aborted",
                "flaky", "intermittent", "intermittently", "unexpected", "wrong", "issue", "problem"),
    "c:diagnose": ("debug", "diagnose", "diagnosis", "investigate", "troubleshoot", "root cause", "cause",
                   "causing", "why", "figure out", "find out", "what went wrong", "went wrong",
                   "track down", "pinpoint"),
    "c:explain": ("explain", "explanation", "describe", "walk through", "walk me through", "what does",
                  "how does", "understand", "understanding", "meaning", "purpose", "clarify", "tell me what",
                  "what is the purpose", "how it works", "works", "teach", "elaborate", "interpret",
                  "break down", "detailed explanation"),
    "c:read": ("read", "review", "reviewing", "inspect", "look at", "audit", "trace", "tracing", "follow",
               "existing", "flow", "step through", "go over"),
    "c:compare": ("compare", "comparison", "comparing", "versus", "vs", "tradeoff", "trade-off",
                  "trade offs", "tradeoffs", "pros and cons", "pros", "cons", "evaluate", "evaluating",
                  "assess", "weigh", "options", "alternatives", "recommend", "recommendation",
                  "should we", "should i", "better", "choose", "choice", "which one", "decide",
                  "decision", "justify", "worth it", "risks", "risk", "impact"),
    "c:reason": ("reason", "reasoning", "think through", "think about", "complex", "multi-step",
                 "analysis", "analyze", "analyse", "analytical", "logic", "logical", "proof", "prove",
                 "deduce", "infer", "estimate", "bottleneck", "strategy", "strategic", "in depth",
                 "thorough", "careful", "detailed", "puzzle", "why would", "implications"),
    "c:plan": ("plan", "planning", "architecture", "architect", "design", "roadmap", "decompose",
               "decomposition", "break into", "milestones", "organize", "structure", "migration plan",
               "system design", "scalable", "scalability", "microservices", "monolith"),
    "c:data": ("data", "dataset", "csv", "spreadsheet", "statistics", "metrics", "numbers", "sales",
               "revenue", "percentiles", "trend", "trends", "chart", "table", "figures", "forecast",
               "growth", "pricing", "cost", "costs", "budget"),
    "c:docs": ("documentation", "document", "docs", "doc", "readme", "docstring", "docstrings", "comment",
               "comments", "changelog", "release notes", "guide", "user guide", "manual", "tutorial",
               "commit message", "api docs", "decision record", "adr", "wiki", "technical writing",
               "howto", "how-to", "faq", "man page", "annotate", "onboarding", "specification"),
    "c:web": ("browse", "browsing", "website", "web", "web page", "webpage", "url", "internet",
              "online", "google", "fetch", "http", "https", "www", "wikipedia", "news", "article",
              "site", "page", "status page", "blog", "search the", "look up online", "latest",
              "today's", "today", "current", "recent", "headlines", "crawl", "scrape", "download",
              "open this", "go to", "visit", "releases page"),
    "c:summarize": ("summarize", "summarise", "summary", "gist", "tl;dr", "tldr", "recap", "digest",
                    "synopsis", "overview"),
    "c:translate": ("translate", "translation", "spanish", "french", "german", "italian", "japanese",
                    "chinese", "portuguese", "korean", "russian", "dutch", "arabic", "hindi", "english",
                    "in another language"),
    "c:convert": ("convert", "conversion", "conversions", "format", "reformat", "transform", "celsius",
                  "fahrenheit", "units", "to yaml", "to json", "to csv", "to markdown", "encode", "decode"),
    "c:fact": ("what is the", "who is", "who was", "when did", "when was", "where is", "how many",
               "how much", "how far", "how old", "capital", "define", "definition", "fact", "factual",
               "lookup", "look up", "time zone", "timezone", "population", "synonym", "antonym",
               "spell", "spelling", "meaning of", "stand for"),
    "c:chat": ("hi", "hello", "hey", "thanks", "thank you", "thx", "bye", "goodbye", "good morning",
               "good night", "how are you", "chat", "chit-chat", "conversation", "casual", "small talk",
               "joke", "cheers"),
    "c:simple": ("simple", "quick", "short", "trivial", "brief", "easy", "fast", "cheap",
                 "one-liner", "basic"),
    "c:math": ("calculate", "compute", "percent", "percentage", "%", "sum", "multiply", "divide",
               "arithmetic", "math", "equation", "square root"),
    "c:long": ("long", "long-context", "entire", "whole", "large", "lengthy", "book", "transcript",
               "many files", "huge", "synthesis", "synthesize", "all of these"),
    "c:ops": ("deploy", "deployment", "docker", "kubernetes", "k8s", "container", "systemd", "systemctl",
              "service", "server", "nixos", "ci", "pipeline", "infrastructure", "cluster"),
}

STOPWORDS = frozenset(
    "a an the and or but of to in on at for with from by as is are was were be been being it its this "
    "that these those i me my we our you your he she they them their there here do does did doing "
    "have has had having can could would should will shall may might must not no so if then than "
    "into onto about over under again further once all any both each few more most other some such "
    "only own same too very just also please pls now up out off what which who whom how when where "
    "give tell let get got want need like one two via using use without within help can't don't".split())

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#%']*(?:[-.][a-z0-9+#]+)*|%")
_SUFFIXES = (("ization", "iz"), ("ation", "at"), ("ement", ""), ("ment", ""), ("ingly", ""),
             ("ing", ""), ("edly", ""), ("ed", ""), ("er", ""), ("ly", ""), ("e", ""))
_KEEP = frozenset({"news", "always", "status", "analysis", "series", "species", "yes", "plus"})
#: Mentioning a language or a test says the task is about code.
IMPLIES = {"c:lang": "c:code", "c:test": "c:code"}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light two-step suffix stripper (plural, then inflection) so write/writing/writes,
    generate/generation and error/errors meet; exactness matters less than consistency."""
    word = word.strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or not word.isalpha() or word in _KEEP:
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("es") and word[-3] in "sxz" or word.endswith(("ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if not replacement and len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # running → run, debugging → debug
            return base + replacement
    return word


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


Phrases = dict[str, tuple[tuple[tuple[str, ...], frozenset[str]], ...]]


def _build_tables() -> tuple[dict[str, frozenset[str]], Phrases]:
    """Word → concepts, and first stem → (phrase stems, concepts), longest phrase first."""
    words: dict[str, set[str]] = {}
    phrases: dict[tuple[str, ...], set[str]] = {}
    for concept, surfaces in CONCEPTS.items():
        for surface in surfaces:
            parts = tuple(stem(t) for t in tokens(surface))
            if len(parts) == 1:
                words.setdefault(parts[0], set()).add(concept)
            elif parts:
                phrases.setdefault(parts, set()).add(concept)
    by_first: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = {}
    for parts, concepts in phrases.items():
        by_first.setdefault(parts[0], []).append((parts, frozenset(concepts)))
    return ({k: frozenset(v) for k, v in words.items()},
            {k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in by_first.items()})


WORD_CONCEPTS, PHRASES_BY_FIRST = _build_tables()
STEM_SHARE = 0.5
#: "exits with code 137", "returned status 500": a numeric code is a failure report, not code.
_STATUS_CODE = re.compile(r"\b(?:code|status)\s+-?\d+\b", re.I)
_URL = re.compile(r"https?://|www\.|[a-z0-9]\.(?:com|org|net|io|dev|gov|edu|co)\b")
#: Signs of code inside one whitespace-free chunk; a line ending in `{`, `}` or `;` is `_LINE_END`.
_CODE_SIGNS = re.compile(r"```|\w\(\)|=>|->|::|\b(?:def|fn|func|const|import|return)\b|"
                         r"\.(?:py|js|ts|rs|go|java|rb|sh|nix|c|cpp|h)\b")
#: Substrings at least one of which every `_CODE_SIGNS` match holds: most chunks skip the regex.
_CODE_HINTS = ("```", "()", "=>", "->", "::", ".", "def", "fn", "func", "const", "import", "return")
_CODE_WORDS = frozenset({"def", "fn", "func", "const", "import", "return"})
_LINE_END = re.compile(r"[{};]\s*$", re.M)
#: A chunk that may end a `_STATUS_CODE` match ("tatus": re.I also reads "ſtatus" as "status").
_STATUS_ENDINGS = ("code", "tatus")
#: `KeyError`, `NullPointerException`: a token naming an error type is a failure report.
_ERROR_SUFFIXES = ("error", "exception")
_URL_FLAG, _CODE_FLAG, _LINE_END_FLAG, _STATUS_FLAG, _ERROR_FLAG = 1, 2, 4, 8, 16
#: Bounds of the per-chunk cache. Longer chunks (pasted blobs, minified code) rarely repeat and are
#: analysed each time; when the cache is full it starts over, a prompt's chunks refill it at once.
_CACHED_CHUNK_CHARS = 48
_CACHED_CHUNKS = 16384


class Lexeme(NamedTuple):
    """What `analyse` needs to know about one token, worked out once per distinct token."""

    stem: str
    pairs: tuple[tuple[str, float], ...]  # (feature, weight) one mention adds: its stem, its concepts
    content: bool  # not a stopword: counts towards the lead words
    phrases: tuple[tuple[tuple[str, ...], frozenset[str]], ...]  # phrases that start here


class Chunk(NamedTuple):
    lexemes: tuple[Lexeme, ...]
    flags: int
    words: int  # tokens that are not stopwords


class Analysis(NamedTuple):
    features: dict[str, float]
    content_words: int  # non-stopword tokens: a prompt of a few words is a quick question or small talk


@lru_cache(maxsize=16384)
def _lexeme(token: str) -> Lexeme:
    st = stem(token)
    concepts = WORD_CONCEPTS.get(st, frozenset())
    content = token not in STOPWORDS and st not in STOPWORDS
    # A word with a concept speaks mostly through it; its own stem adds the precise match.
    # "why", "how" are stopwords but still cue a concept.
    own = ((st, STEM_SHARE if concepts else 1.0),) if content else ()
    return Lexeme(st, own + tuple((c, 1.0) for c in sorted(concepts)), content, PHRASES_BY_FIRST.get(st, ()))


def _analyse_chunk(chunk: str) -> Chunk:
    """One whitespace-free chunk. No token, URL or in-line code sign spans whitespace, so a text's
    chunks can be analysed (and cached) one by one; the two signs that do span it are only flagged
    here, for `analyse` to confirm on the whole text. A plain word, perhaps ending a clause, is
    most chunks and needs no regex."""
    lowered = chunk.lower()
    word = lowered[:-1] if lowered[-1] in ".,:;!?" else lowered
    if word.isascii() and word.isalpha():
        flags = _URL_FLAG if lowered.endswith("www.") else 0
        if chunk[:len(word)] in _CODE_WORDS:
            flags |= _CODE_FLAG
        if len(word) > 5 and word.endswith(_ERROR_SUFFIXES):
            flags |= _ERROR_FLAG
        lexemes: tuple[Lexeme, ...] = (_lexeme(word),)
        words = 0 if word in STOPWORDS else 1
    else:
        raw = _TOKEN.findall(lowered)
        flags = _URL_FLAG if ("." in lowered or "/" in lowered) and _URL.search(lowered) else 0
        if any(hint in chunk for hint in _CODE_HINTS) and _CODE_SIGNS.search(chunk):
            flags |= _CODE_FLAG
        if any(len(t) > 5 and t.endswith(_ERROR_SUFFIXES) for t in raw):
            flags |= _ERROR_FLAG
        lexemes = tuple(map(_lexeme, raw))
        words = sum(1 for t in raw if t not in STOPWORDS)
    if chunk[-1] in "{};":
        flags |= _LINE_END_FLAG
    if lowered.endswith(_STATUS_ENDINGS):
        flags |= _STATUS_FLAG
    result = Chunk(lexemes, flags, words)
    if len(chunk) <= _CACHED_CHUNK_CHARS:
        if len(_CHUNK_CACHE) >= _CACHED_CHUNKS:
            _CHUNK_CACHE.clear()
        _CHUNK_CACHE[chunk] = result
    return result


_CHUNK_CACHE: dict[str, Chunk] = {}
_LEXEMES, _FLAGS, _WORDS = itemgetter(0), itemgetter(1), itemgetter(2)
_STEM = itemgetter(0)


def _chunks(text: str) -> list[Chunk]:
    parts = text.split()
    found: list[Chunk | None] = list(map(_CHUNK_CACHE.get, parts))
    if None in found:
        for i, chunk in enumerate(found):
            if chunk is None:
                found[i] = _analyse_chunk(parts[i])
    return found  # type: ignore[return-value]  # no None left


def analyse(text: str, *, lead: int = 0, lead_weight: float = 1.0) -> Analysis:
    """Stems and concepts of `text` with weights: repeated mentions add up, with diminishing returns.

    Phrases are matched leftmost-longest, and their words then count only through the phrase
    ("exit code" is an error cue, not a code cue). The first `lead` content words weigh
    `lead_weight`: people state the task first ("Document the variables this service reads").
    This runs on every routed request, so tokens, stems and concepts come from a per-chunk cache and
    only the signs that span whitespace go back to a regex over the whole text.
    """
    chunks = _chunks(text)
    flags = reduce(or_, map(_FLAGS, chunks), 0)
    words = sum(map(_WORDS, chunks))
    if flags & _STATUS_FLAG:
        lowered = text.lower()
        if ("code" in lowered or "status" in lowered) and _STATUS_CODE.search(lowered):
            chunks = _chunks(_STATUS_CODE.sub(" failure ", lowered))
            flags = flags & ~_ERROR_FLAG | reduce(or_, map(_FLAGS, chunks), 0) & _ERROR_FLAG
    lexemes = list(chain.from_iterable(map(_LEXEMES, chunks)))
    counts: dict[str, float] = {}
    seen_content = 0
    skip_to = 0
    for i, (_, pairs, content, phrases) in enumerate(lexemes):
        if i < skip_to:  # inside a phrase matched further left
            continue
        for parts, concepts in phrases:  # leftmost-longest: the longest phrase starting here
            if tuple(map(_STEM, lexemes[i:i + len(parts)])) == parts:
                for c in concepts:
                    counts[c] = counts.get(c, 0.0) + 1.0
                skip_to = i + len(parts)
                break
        if i < skip_to:
            continue
        weight = 1.0
        if content and seen_content < lead:
            seen_content += 1
            weight = lead_weight
        for feature, w in pairs:
            counts[feature] = counts.get(feature, 0.0) + weight * w
    if flags & _URL_FLAG:
        counts["c:web"] = counts.get("c:web", 0.0) + 2.0
    if flags & _CODE_FLAG or flags & _LINE_END_FLAG and _LINE_END.search(text):
        counts["c:code"] = counts.get("c:code", 0.0) + 1.0
    if flags & _ERROR_FLAG:
        counts["c:error"] = counts.get("c:error", 0.0) + 1.0
    for concept, implied in IMPLIES.items():
        if concept in counts:
            counts[implied] = max(counts.get(implied, 0.0), counts[concept])
    return Analysis({f: n if n <= 1.0 else _saturate(n) for f, n in counts.items()}, words)


def features(text: str, *, lead: int = 0, lead_weight: float = 1.0) -> dict[str, float]:
    """`analyse(...).features`: a route's name, description and examples are read this way."""
    return analyse(text, lead=lead, lead_weight=lead_weight).features


def _saturate(count: float) -> float:
    """1 for one mention, slowly more for repeats: a route described by five error words is more
    about errors than one naming a single bug, but not five times more."""
    return count if count <= 1.0 else 1.0 + 0.5 * math.log(count)
