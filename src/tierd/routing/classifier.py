"""Pick a task from the prompt with transparent rules: keywords, the shape of the prompt, the
presence of code, the requested length.

Why rules first: the classifier runs on every unlabelled request, must cost nothing next to
the call it routes, and must be explainable — `tierd route explain` prints the rule that
fired, and a wrong route is fixed by a header or a rule, not by retraining. Rules are tried
in order and the first match wins; the order encodes precedence (reviewing code is code work
even though "review" also means final review; a request to write tests is test generation
even though it asks to write code; a rename across a repository is a bulk edit, not a
formatting job). `tierd.routing.semantic` backs the rules up with labelled exemplars for the
phrasings no rule knows.

Only the instruction part of a prompt is searched for keywords — the first line and a short
last line of the last user message, then the system message with them — because a pasted
document's own words ("summary", "architecture") say nothing about what to do with it; for
the same reason quoted spans in those lines (a headline, an utterance) are blanked. The
user's own lines are read before the system message: an agent framework's system prompt
("You are a helpful assistant with tools...") frames every request the same way, so it only
decides when the user's lines say nothing a rule recognises. A first or last line that is
itself pasted material (a log line, a table row, JSON, code, a line of a fenced block) is no
instruction, and a last user message that is all material (the instruction came in an earlier
turn: "I'll paste the pods, tell me which are unhealthy") takes its instruction from the
latest user turn that has one (`instruction_of`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

INSTRUCTION_CHARS = 400
"""The longest line that still reads as an instruction rather than pasted material."""

LONG_FORM_WORDS = 600
"""A requested length from which the output is long-form writing."""

MANY_FILES = 3
"""Pasted files (counted by their header lines) from which a request covers a codebase."""

MATERIAL_MIN_CHARS = 12
MATERIAL_LETTERS = 0.6
"""A line of at least MATERIAL_MIN_CHARS whose letters and spaces are under this share of it
(a CSV row, JSON, a log line), or that has no space at all, is pasted material."""


@dataclass(frozen=True)
class Classification:
    task: str
    rule: str
    """The rule that fired, e.g. "code-review (first line): code plus a review verb"."""


@dataclass(frozen=True)
class Prompt:
    instruction: str
    """Lower-cased instruction lines the keyword rules search (with the system message in
    the last reading)."""
    system: str
    """Lower-cased system message."""
    has_code: bool
    files: int
    """How many pasted files the last user message holds, counted by their header lines."""
    tool_turns: bool
    """The history holds tool calls or tool results: an agent loop is running."""
    requested_words: int
    """The length asked for, in words (pages count 500); 0 when none is asked for."""


_CASE_FOLDS = re.compile("[A-Z\u0130\u0131\u017f\u212a]")
"""The characters a case-insensitive pattern's ASCII letters match besides the lower-case
letters themselves (upper case; dotted and dotless i, long s, the Kelvin sign): a text free of
them holds a vocabulary's words exactly as written, lower case."""


@dataclass(frozen=True)
class Vocabulary:
    """A case-insensitive pattern of alternatives, with cheap checks in front: each
    alternative's `needles`, strings of which every match of it contains one (None when it
    has no such set), and `gate`, one case-sensitive pattern of every needle (None when an
    alternative has none). Most instructions hold none of a vocabulary's words, which the
    gate says in one scan; otherwise only the alternatives whose needles occur are searched,
    which costs far less than trying dozens of alternatives at every position. The pattern
    occurs in a text exactly when one of its alternatives does, so the answer is the whole
    pattern's; a text with characters the checks cannot reason about (`_CASE_FOLDS`) is
    searched with the whole pattern."""

    alternatives: tuple[tuple[tuple[str, ...] | None, re.Pattern[str]], ...]
    """(needles, the alternative alone) for each alternative, in order."""
    gate: re.Pattern[str] | None

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """The one alternation, compiled when a text first needs it (few texts do)."""
        return re.compile("|".join(f"(?:{a.pattern})" for _, a in self.alternatives),
                          re.IGNORECASE)

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in `text` (as `bool(pattern.search(text))`)."""
        if _CASE_FOLDS.search(text):
            return self.pattern.search(text) is not None
        if self.gate is not None and self.gate.search(text) is None:
            return False
        contains = text.__contains__
        return any(alternative.search(text) is not None
                   for needles, alternative in self.alternatives
                   if needles is None or any(map(contains, needles)))


def _required(items: list) -> frozenset[str] | None:
    """Strings of which any match of a parsed sequence contains one, lower-cased ASCII: the
    best of its literal runs and of the parts it cannot match without (a group, an
    alternation whose every branch has such strings, a repeat at least once); None when
    there are none."""
    parser = re._parser  # type: ignore[attr-defined]
    found: list[frozenset[str]] = []
    run: list[str] = []
    for op, value in [*items, (None, None)]:
        char = chr(value) if op is parser.LITERAL else ""
        if char.isascii() and char:
            run.append(char.lower())
            continue
        if run:
            found.append(frozenset({"".join(run)}))
            run = []
        inner: frozenset[str] | None = None
        if op is parser.SUBPATTERN:
            inner = _required(list(value[3]))
        elif op is parser.ATOMIC_GROUP:
            inner = _required(list(value))
        elif op in (parser.MAX_REPEAT, parser.MIN_REPEAT, parser.POSSESSIVE_REPEAT) and value[0]:
            inner = _required(list(value[2]))
        elif op is parser.BRANCH:
            branches = [_required(list(branch)) for branch in value[1]]
            if all(branch is not None for branch in branches):
                inner = frozenset().union(*branches)  # type: ignore[arg-type]
        if inner:
            found.append(inner)
    if not found:
        return None
    # A needle that holds another says nothing more: the shorter one occurs wherever it does.
    best = max(found, key=lambda needles: (min(map(len, needles)), -len(needles)))
    return frozenset(n for n in best if not any(o != n and o in n for o in best))


def _needles(alternative: re.Pattern[str]) -> tuple[str, ...] | None:
    try:
        parsed = re._parser.parse(alternative.pattern, alternative.flags)  # type: ignore[attr-defined]
        found = _required(list(parsed))
    except Exception:  # another Python's parser: no check, the alternative alone decides
        return None
    return tuple(sorted(found)) if found else None


def _any(*alternatives: str) -> Vocabulary:
    """One case-insensitive pattern matching any of the alternatives (each a regex)."""
    parts = tuple((_needles(a), a) for a in (re.compile(a, re.IGNORECASE) for a in alternatives))
    every = [needle for needles, _ in parts for needle in needles or ()]
    gate = None if any(needles is None for needles, _ in parts) else re.compile(
        "|".join(re.escape(needle) for needle in sorted(set(every))))
    return Vocabulary(parts, gate)


_FENCE = re.compile(r"```")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |function |const |let |var |public |private |"
    r"#include|fn |func |package |SELECT .* FROM|return |if \(|for \(|while \(|\}|.*;\s*$|"
    r".*\) \{\s*$|.*=>)", re.MULTILINE)
_FILE_HEADER = re.compile(
    r"^\s*(?:={2,}|#{2,}|-{3}|\+{3}|==>|//|file:)\s*(?:a/|b/|repo: )?[\w./*-]+\.?[\w-]*/?"
    r"[\w./-]*\s*(?:={2,}|<==)?\s*$", re.MULTILINE | re.IGNORECASE)
_QUOTED = re.compile(r"(?<![\w'])(['\"`‘“])(?=\S)[^'\"`‘’“”\n]{2,}?(?<=\S)['\"`’”](?!\w)")
_LENGTH = re.compile(r"\b(\d[\d,]*)\s*(?:-\s*)?(words?|pages?)\b", re.IGNORECASE)
_LIST_ITEM = r"[\w'…][\w/'.+…-]*(?: [\w'…][\w/'.+…-]*){0,2}"
_LIST_SEP = re.compile(r",?\s+(?:or|and)\s+|,\s*")
_COLON_LIST = re.compile(rf"(:\s*)({_LIST_ITEM}(?:,\s*{_LIST_ITEM})+(?:,?\s+(?:or|and)\s+"
                         rf"{_LIST_ITEM})?)(?=\s*(?:[.?!;)]|$))")
_FENCE_LINE = re.compile(r"^\s*(?:```|~~~)")
_FENCES = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
_MATERIAL_LINE = re.compile(
    r"^(?:\s{2,}|\t)|^\s*[^\w\s'\"‘“(¿¡]|^\s*\d|^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d|"
    r"\S {2,}\S.*\S {2,}\S|<[^<>\s]+@[^<>\s]+>|[;{]\s*$")

# -- the vocabularies, one per rule ---------------------------------------------------------

_REVIEW = _any(
    r"\breview", r"\bcritique", r"\baudit", r"\blook over", r"\bfind (?:the |any )?bugs?",
    r"\bbugs?\?", r"\bspot the (?:bug|issue|problem|mistake|error)s?\b", r"\bwhat'?s wrong",
    r"\banything wrong", r"\bany issues",
    r"\b(?:spot|see|notice) any (?:issues|problems|bugs)", r"\bany problems with",
    r"\b(?:security|correctness|concurrency|thread[- ]safety) (?:issues|holes|problems|review)",
    r"\bcode smells?", r"\bnitpicks?", r"\bfeedback on", r"\bgive feedback", r"\bsecond opinion",
    r"\blgtm", r"\blook (?:right|ok|good|correct)\b", r"\bidiomatic",
    r"\bis (?:this|it) (?:\w+ ){0,2}(?:correct|safe|right|production[- ]ready|typed correctly)",
    r"\b(?:safe|correct) under", r"\bedge cases (?:i'?m|we'?re) missing", r"\bred flags?",
    r"\bthorough look", r"\b(?:take|give it) a look", r"\bwhat (?:you'?d|would you) change",
    r"\bcheck (?:this|the|my) (?:pr|diff|code|function|script|class|patch|change|module)\b",
    r"\bpotential (?:[\w-]+ ){0,2}(?:issues|bugs|problems)", r"\bdangerous", r"\bviolations",
    r"\bstale[- ]closure", r"\boff-by-one", r"\bcatastrophic backtracking",
    r"\bwill (?:anything|this|it) (?:here )?break", r"\breadability", r"\bblocking issues")
_CODE_CONTEXT = _any(
    r"\bpull request", r"\bpr\b", r"\bmerge request", r"\bmr\b", r"\bdiff", r"\bpatch",
    r"\bbranch", r"\bthe code\b",
    r"\bthis (?:code|function|class|script|method|module|regex|hook|query|sql|migration|"
    r"dockerfile|manifest|workflow|program|parser)",
    r"\bmy (?:code|function|pr|program|script|first \w+ program)")
_WHOLE_CODEBASE = _any(r"\b(?:whole|entire) (?:codebase|repo|repository|project)",
                       r"\bacross (?:the|all|our|these) repos", r"\ball (?:\d+ )?(?:our )?repos")

_FINAL_REVIEW = _any(
    r"\b(?:final|last) (?:review|pass|read|check|look|polish|proof|version|draft)",
    r"\bone (?:last|more|final) (?:time|read|look|pass)", r"\banother (?:look|read|pass)",
    r"\bproof-?read", r"\bproof (?:this|the|my)", r"\bsign[- ]off", r"\bdouble-check",
    r"\bsanity[- ]check", r"\btypos", r"\bgrammar", r"\bspelling", r"\bgoes live",
    r"\bbefore (?:we |i |it |they |anyone )?(?:publish|ship|send|submit|post|print|go(?:es)? "
    r"(?:out|live)|hit send)",
    r"\bbefore (?:publishing|publication|submitting|sending|posting|it goes)",
    r"\bready to (?:publish|ship|send|submit|share|post|print|go out)", r"\bis (?:it|this) ready",
    r"\bgo/no-go", r"\bpre-?publication", r"\babout to (?:hit send|send|publish|submit|post)",
    r"\bapprove or reject", r"\bqa the (?:newsletter|post|copy|page|email|announcement)",
    r"\bprinter")

_TEST_GEN = _any(
    r"\btests? for\b", r"\btest that\b", r"\btest suite\b", r"\bthe test file\b",
    r"\b(?:write|add|generate|create|give me|need|produce)\b(?:\s+\S+){0,5}?\s+(?:tests?|specs?|"
    r"doctests?)\b",
    r"\btest (?:cases?|inputs?|data|fixtures?|matrix|sentences|plan|scenarios)\b",
    r"\b(?:unit|integration|e2e|end-to-end|snapshot|regression|property[- ]based|"
    r"table[- ]driven|golden[- ]file|contract|smoke|interaction)\s+tests?\b",
    r"\b(?:pytest|jest|junit ?\d*|cypress|playwright|bats|vitest|mocha|rspec|hypothesis|xunit|"
    r"nunit)\b(?:\s+[\w-]+){0,2}?\s+(?:tests?|specs?|suite)\b",
    r"\bdoctests?\b", r"\bfuzz(?:ing)? harness", r"\bfixtures\b",
    r"\bcover (?:every|each|all) (?:branch|path|case)", r"\bedge[- ]case inputs",
    r"\bwith tests\b", r"\bto test (?:our|the|my|this|a|an)\b",
    r"\b(?:mock|fake|sample|dummy|synthetic) (?:[\w-]+ )?(?:data|records|users|orders|inputs|"
    r"payloads|customers|events|rows)\b",
    r"\bload-test data", r"\binputs? (?:that |which )?(?:would |might |could )?break")

_EDIT_VERB = _any(
    r"\b(?:rename|replace|change|update|swap|bump|switch|convert|move|migrate|turn|add|strip|"
    r"remove|delete|put|prefix|apply|standardi[sz]e|normali[sz]e|unify)\b",
    r"\b(?:find|search)[- ]and[- ]replace\b", r"\bsed-style")
_MANY_FILES = _any(
    r"\beverywhere\b", r"\bacross\b", r"\bthroughout\b", r"\bin (?:all|every|each)\b",
    r"\bin the code\b", r"\bsed-style",
    r"\b(?:all|every|each) (?:of )?(?:the |these |our )?(?:[\w.*/-]+ )?(?:files?|modules?|"
    r"packages?|pages?|templates?|manifests?|imports?|call sites|references|occurrences|"
    r"source files|docs|repos?|services)\b",
    r"\bthe (?:whole |entire )?(?:repo|repository|codebase|monorepo|project)\b",
    r"\b\d+ (?:[\w.-]+ )?(?:files|modules|pages|packages|templates|repos|manifests)\b",
    r"\b(?:these|the following) (?:\d+ )?(?:[\w.-]+ )?(?:files|modules|manifests|templates|"
    r"pages|packages)\b",
    r"\bevery (?:dockerfile|makefile|package\.json|readme|config|manifest|template|test|import|"
    r"reference|occurrence|call|file|page|link|module|handler|class)",
    r"\bin (?:this|the) [\w-]+ package\b", r"\bevery \*?\.\w+ file", r"\*\.\w+ files?",
    r"\bin (?:the )?[\w.-]+/(?=\s|$)")

_TEMPLATE = _any(
    r"\bboilerplate", r"\bscaffold", r"\bskeleton", r"\bstubs?(?: out)?\b", r"\bstamp out",
    r"\bfrom (?:this|the|our) template", r"\bcomponent template",
    r"\bfollowing (?:exactly )?(?:the|this|our) (?:pattern|template|convention)",
    r"\b(?:the )?same way as\b", r"\bthe same way \w+ does", r"\bsame as (?:our|the) other",
    r"\bsame as for\b", r"\bmirroring", r"\bcopying the",
    r"\blike the \S+ (?:\S+ )?(?:below|above)",
    r"\blike (?:we did for|the one for)", r"\brepeat this", r"\bfor the other \w+",
    r"\bthe usual (?:targets|crud|mappings|annotations|fields|files|structure|setup)",
    r"\bcrud\b", r"\bsame \w+ (?:classes|methods|functions) for",
    r"\bwith the same (?:keys|fields|structure) as",
    r"\bstandard (?:setup|config|template|layout|files|\.\w+)", r"\bstarter", r"\bhello[- ]world",
    r"\b(?:empty|blank|bare|minimal) (?:[\w-]+ ){0,3}(?:template|component|project|app|file|"
    r"module|class)",
    r"\bbasic (?:express|flask|fastapi|django|spring|node|react|vue|next\.js|rails) (?:server|"
    r"app|project|setup)")
_CONFIG_ARTEFACT = _any(
    r"\bdockerfile", r"\bdocker-compose", r"\bcompose file", r"\bmakefile", r"\bsystemd unit",
    r"\bunit file", r"\blaunchd plist", r"\bhelm chart", r"\b(?:github actions|ci) workflow",
    r"\bopenapi", r"\bswagger", r"\bterraform", r"\bnginx (?:[\w-]+ )*config", r"\.gitignore",
    r"\.editorconfig", r"\.dockerignore", r"\bpre-commit config",
    r"\b(?:k8s|kubernetes)\b(?:\s+\w+){0,2}\s+(?:manifests?|yaml|deployment|cronjob|configmap|"
    r"ingress)",
    r"\bgetters and setters", r"\bdataclass(?:es)? for (?:each|every|all|these)",
    r"\b(?:typescript |ts )?interfaces for",
    r"\b(?:pydantic|zod|sqlalchemy|orm) (?:v\d )?models? for",
    r"\bargparse", r"\bclap\b", r"\bprotobuf", r"\.proto\b", r"\bcreate table migrations?",
    r"\bmigrations? for (?:these|the) models", r"\bi18n", r"\bpyproject\.toml", r"\bpackage\.json",
    r"\btsconfig", r"\b(?:eslint|prettier|webpack|vite|ruff|tox) config", r"\bsetup\.py",
    r"\bcargo\.toml", r"\bgo\.mod", r"\bserializers?", r"\bviewsets?")
_PROBLEM = _any(r"\b(?:fix|debug|fails?|failing|broken|error|crash(?:es)?|why)\b")

_SCAN_VERB = _any(
    r"\b(?:scan|map|find|list|search|grep|inventory|survey|go through|look (?:over|through)|"
    r"walk|crawl|locate|overview|tour|call graph)\b",
    r"\bhow (?:\w+ ){0,2}is (?:organi[sz]ed|structured|laid out)", r"\bfolder by folder",
    r"\busages? of\b", r"\bwhich ones\b", r"\bwhere (?:in|is|are|do|does)\b",
    r"\bwhich (?:\w+ ){0,2}?(?:files?|repos?|repositories|services?|modules?|packages?|crates?)\b",
    r"\bdependency graph\b", r"\bdead code\b", r"\b(?:report|describe) (?:the |its )?(?:structure|"
    r"layout)",
    r"\bwhat does (?:this|the) (?:codebase|repo|project) look like",
    r"\bwhat does each (?:module|file|service|package|folder|directory)")
_CODEBASE = _any(
    r"\brepos?\b", r"\brepositor(?:y|ies)", r"\bcode ?base", r"\bmonorepo", r"\bworkspace",
    r"\bproject\b", r"\bacross (?:the|these|all|our|every)", r"\bwhole (?:src|tree|repo|codebase)",
    r"\bsrc/ tree", r"\bthese files", r"\bthe files (?:below|above)", r"\bthe services",
    r"\bevery (?:file|package\.json|dockerfile|module|service)", r"\bcrates",
    r"\b(?:go|python|rust|java) packages", r"\b(?:the|all|every) [\w./*-]+ files",
    r"\ball (?:its|their|the|of the) files",
    r"\ball (?:\d+ )?(?:our )?(?:services|repos|repositories|modules|packages)\b")

_ARCHITECTURE = _any(
    r"\bdesign (?:a|an|the|our|my|for|offline)\b", r"^\W*(?:high[- ]level )?design\b",
    r"\b(?:high[- ]level|system) design", r"\barchitect", r"\btrade-?offs?\b",
    r"\bweigh (?:both|the|it|them|each)", r"\bhow would you (?:architect|design)",
    r"\bhow should (?:we|i) (?:structure|split|organi[sz]e|lay out|layer|model|partition|shard|"
    r"deploy)",
    r"\bwhat(?:'s| is) the right (?:structure|way to structure|architecture|design)",
    r"\b(?:right|best|sane) way to (?:split|partition|shard|organi[sz]e|lay out) (?:our|the|my|"
    r"this) \w+ into",
    r"\bbest way to (?:structure|design|organi[sz]e|architect|model|scale|partition|shard|deploy)",
    r"\bwhere should (?:\w+ ){1,3}live\b", r"\bone (?:process|service|binary|database) or "
    r"(?:two|several|many)",
    r"\bzero[- ]downtime", r"\bmulti[- ]region", r"\bactive[- ]active", r"\bmulti-?tenan",
    r"\bstorage layout", r"\bdata model\b", r"\bschema and ind", r"\bgood idea or overkill",
    r"\bscal(?:e|ing) (?:this |it )?to \d", r"\bevent[- ]sourcing", r"\bmicroservices?\b",
    r"\bmonolith", r"\bsharding", r"\bpartitioning", r"\bread replicas", r"\btopology",
    r"\bfailure modes", r"\btarget architecture", r"\bmodule boundar", r"\boutgrow",
    r"\bapi gateway", r"\bcaching (?:across|strategy|layer)",
    r"\bsensible (?:module|service) (?:boundary|split)",
    r"\bbuild (?:vs\.?|or) buy", r"\bbuild (?:our|my) own \w+ or",
    r"\bis it better to (?:build|use|adopt|run)", r"\bwhich database",
    r"\b\d+k? ?(?:rps|qps|requests (?:a|per) second)",
    r"\b\d+[km]? (?:[\w-]+ )?(?:events|requests|messages|jobs|writes|reads) (?:a|per) "
    r"(?:day|second|minute)",
    r"\b(?:propose|recommend|suggest) (?:a|an|the) (?:[\w-]+ ){0,2}(?:strategy|topology|"
    r"architecture|approach|setup|design|layout)",
    r"\b(?:sketch|propose|outline) (?:a|an) (?:[\w-]+ ){0,2}system\b",
    r"\b(?:choose|decide|pick) between (?:a |an )?(?:[\w-]+ ){0,3}(?:queues?|databases?|dbs?|"
    r"cache|services?|frameworks?|brokers?|protocols?|storage|orms?|apis?)\b",
    r"\b(?:sqlite|postgres(?:ql)?|mysql|redis(?: streams)?|kafka|rabbitmq|nats|grpc|rest|graphql|"
    r"qdrant|sqlite-vec|elasticsearch|dynamodb|s3|serverless|lambda|kubernetes|k8s|vms?|"
    r"vm fleet|nomad|monorepo|polyrepo|mongo(?:db)?|cassandra|clickhouse|sqs|sns|pub/?sub|"
    r"kinesis)\b[^.?!\n]{0,40}?\b(?:or|vs\.?|versus)\b")

_WRITING_NOUN = (
    r"(?:essay|blog ?post|article|short story|story|letter|cover letter|proposal|speech|toast|"
    r"eulogy|obituary|poem|haiku|song|lyrics|newsletter|press release|documentation(?: page)?|"
    r"docs page|user guide|chapter|novel|white ?paper|announcement|memo|op-?ed|readme|tutorial|"
    r"guide|narrative|prd|product requirements(?: doc(?:ument)?)?|roadmap|case study|"
    r"investor update|course outline|lesson|(?:talk|video|podcast) script|keynote|apology|reply|"
    r"write-?up|post-?mortem|bio|about(?: us)? page|landing page|linkedin post|tweet thread|"
    r"(?:values|careers|onboarding|team|faq) page|"
    r"pitch|manifesto|vows|sermon|strategy memo|one-pager|blurb|intro(?:duction)?|"
    r"product description|tagline|slogan|recommendation letter|letter of recommendation|"
    r"(?:farewell|goodbye|thank-you|condolence|welcome|congratulations) (?:message|note|letter|"
    r"card)|(?:mission|values|vision|personal) statement|e-?mail)")
_WRITING = _any(
    r"\b(?:write|draft|compose|author|pen|prepare|put together|create|plan|outline|i need|"
    r"i'?d like|give me|make me|help me with|can you do)\b(?:\s+\S+){0,6}?\s+" + _WRITING_NOUN
    + r"\b",
    r"^\W*(?:(?:a|an|the|my|our|your|some)\s+)?(?:[\w'…-]+\s+){0,2}?(?:" + _WRITING_NOUN
    + r"|page)\b\W*(?::|—|-|for\b|about\b|on\b|announcing\b|to\b|that\b|explaining\b|"
    r"introducing\b|celebrating\b)",
    r"\b(?:turn|make|expand|develop|flesh out)\b[^.?!\n]{0,40}?\binto (?:a |an )?(?:\w+ ){0,3}?"
    + _WRITING_NOUN + r"\b")
_LONG_FORM = _any(r"\b(?:long[- ]form|in depth|in-depth|comprehensive|detailed) (?:essay|article|"
                  r"report|guide|post|piece|write-?up)")

_LANGUAGE = (r"(?:python|rust|go|golang|javascript|typescript|java|kotlin|haskell|c\+\+|c#|"
             r"swift|ruby|elixir|scala|bash|shell|sql|node(?:\.js)?|php|lua|zig|ocaml)")
_CODE_NOUN = (
    r"(?:functions?|class(?:es)?|scripts?|methods?|modules?|endpoints?|regex(?:es)?|"
    r"regular expressions?|sql query|query|program|cli|bug|decorator|component|middleware|hook|"
    r"coroutine|one-liner|api client|parser|algorithm|data structure|cache|queue|iterator|"
    r"generator|struct|trait|type hints|lru cache|ring buffer|linked list|trie|heap|"
    r"priority queue|binary tree|hash ?map|bloom filter|backoff|retry|rate limiter|debounce|"
    r"throttle|thread pool|worker pool|state machine|dijkstra|implementation|binary search|"
    r"quicksort|merge sort|sort(?:ing)? algorithm|resolver|handler|webhook|crawler|scraper|bot|"
    r"plugin|library|sdk|wrapper|api)")
_CODE_ASK = _any(
    r"\b(?:write|implement|create|generate|build|refactor|fix|add|port|rewrite|optimi[sz]e|"
    r"complete|debug|code up|give me|i need|help me write)\b(?:\s+\S+){0,5}?\s+" + _CODE_NOUN
    + r"\b")
_CODE_FIRST = _any(
    r"^[^\w`]*(?:(?:a|an)\s+)?(?:(?:tiny|small|simple|quick)\s+)?"
    r"(?!go (?:through|over|ahead|back|on|to)\b)(?:" + _LANGUAGE + r"|regexp?|regular expression|"
    r"sql query|one-liner|lru cache|ring buffer|dijkstra|trie|bloom filter)\b")
_CODE_IN_LANGUAGE = _any(r"\b(?:in|using|with|for) " + _LANGUAGE + r"\b")
_CODE_MAKE = _any(r"\b(?:implement|write|build|parse|serialize|convert|code|port|make|"
                  + _CODE_NOUN + r")\b")
_CODE_PROBLEM = _any(
    r"\bdeadlocks?", r"\brace condition", r"\bsegfault", r"\bsegmentation fault",
    r"\bpanic(?:s|ked)?\b", r"\bstack overflow", r"\bmemory leak", r"\bleaks? memory",
    r"\binfinite loop", r"\bre-?renders?", r"\bcompiler (?:says|error)", r"\brustc", r"\bmypy",
    r"\btype ?error", r"\bnull pointer", r"\w+error:", r"\bhow (?:do|can) i fix",
    r"\b(?:throws?|raises?|getting) (?:an? )?\W?\w*(?:error|exception)",
    r"\b(?:doesn't|does not|won't|will not|fails to) compile",
    r"\bget (?:this|it|the) (?:[\w-]+ ){0,3}to (?:compile|build|run|work|pass)",
    r"\bwhy (?:is|does) (?:my|this|the) (?:[\w-]+ ){0,2}(?:query|code|function|script|program|"
    r"test|build|app|loop|regex|component|endpoint) (?:returning|return|failing|fail|crashing|"
    r"crash|hanging|hang|so slow|throwing|giving|printing)",
    r"\bmake (?:it|this|them|the tests?) (?:pass|faster|work|compile|thread-safe|safe|stream)",
    r"\bget (?:them|it|the tests?) (?:green|passing)",
    r"\bfix (?:it|this|the bug|the (?:failing )?tests?)\b", r"\bpatch it",
    r"\bconvert (?:[\w-]+ ){0,4}?(?:code|callbacks?|class|function|component)s? to",
    r"\bhow (?:would|do|should) (?:you|i) (?:code|implement|write) (?:that|this|it)")
_CODE_VERB = _any(
    r"\b(?:fix|refactor|implement|optimi[sz]e|rewrite|port|complete|debug|patch|memoi[sz]e|"
    r"vectori[sz]e|paralleli[sz]e)", r"\bspeed up", r"\bhow (?:do|can|should) i\b",
    r"\bwhy does (?:this|it) (?:crash|fail|throw|panic|hang)",
    r"\bmake (?:this|it) (?:faster|work|compile|pass)")

_ORCHESTRATE = _any(
    r"\bplan (?:the |my |our )?(?:next )?(?:steps|work|sequence|execution|it)",
    r"\bnext (?:action|steps?|move)\b", r"\bbreak (?:this|it|the \w+) (?:\w+ )?(?:down|into)",
    r"\bbreak down\b[^.?!\n]{0,60}\binto (?:steps|tasks|sub-?tasks|phases|parts)",
    r"\bdecompose", r"\bsub-?tasks?", r"\bsub-?questions", r"\bsub-?agents?", r"\bagents?\b",
    r"\bdelegate", r"\bcoordinat", r"\borchestrat", r"\bspecialist", r"\bwhich tools?\b",
    r"\b(?:pick|choose|select) (?:the |a )?tools?", r"\btool calls?\b", r"\bworkflow\b", r"\bdag\b",
    r"\bsequence of (?:tool )?calls", r"\bexecution plan", r"\bstep-by-step plan",
    r"\bhand-?off plan", r"\bwho (?:does|goes|speaks|starts|should)",
    r"\bwhat should (?:\w+ ){0,3}(?:run|do|happen) next", r"\b(?:run|do|call) (?:next|first)\b",
    r"\bin (?:what|which) order", r"\b(?:best |right )?order to (?:run|do|apply|execute)",
    r"\bthe order to run", r"\bis the task complete", r"\bre-?run", r"\bfall ?back to",
    r"\bwake up", r"\banother round", r"\bwhich (?:\w+ )?to use\b",
    r"\byou have (?:a|an|the) [\w-]+ tool", r"\bassign (?:these|each|the) (?:\w+ )?tasks?",
    r"\bresults from the (?:\w+ ){0,2}(?:workers|agents)", r"\bshould be called\b",
    r"\bfunction definitions", r"\bshould (?:we|i) (?:retry|skip|escalate|abort|continue|wait)\b",
    r"\bescalate to a human", r"\bas the (?:supervisor|planner|orchestrator|coordinator)\b",
    r"\bto the right (?:worker|agent|tool|sub-?agent)\b")

_SUMMARIZE = _any(
    r"\bsumm?ari[sz]e", r"\bsummary", r"\bsum (?:it |this |them )?up", r"\btl;?dr",
    r"\bkey (?:points|takeaways)", r"\bmain (?:points|changes|ideas)", r"\bcondense", r"\bgist\b",
    r"\brecap", r"\bdigest\b", r"\bboil (?:\w+ ){0,3}down", r"\bsynopsis", r"\brundown",
    r"\bupshot", r"\bbottom line", r"\babstract\b", r"\bhighlights\b", r"\bwhat'?s new",
    r"\bin (?:one|two|three|\d+|a few) (?:sentences?|bullets?|lines?|paragraphs?)",
    r"\bin a (?:sentence|nutshell|paragraph|few words)",
    r"\b(?:one|two|three|\d+|a few) (?:bullets?|bullet points|sentences|lines) (?:on|about|of)\b",
    r"\bone[- ]line (?:description|summary|commit message|status|update)", r"\bone-paragraph",
    r"\bstatus line", r"\bcommit message for", r"\bshorten", r"\bstandup update",
    r"\bcollapse (?:\w+ ){0,3}into (?:one|a single)", r"\bwhat did (?:\w+ ){0,3}do\b",
    r"\bwhat happened", r"\boverall picture", r"\bexecutive summary", r"\bbrief of\b",
    r"\bshort (?:answer|summary|paragraph|description)", r"\bshort(?:er)? version",
    r"\bgive me the (?:gist|upshot|headline)", r"\b(?:brief|quick|high-level) overview",
    r"\boverview of (?:this|the|these)", r"\bwhat'?s (?:this|it) about",
    r"\b(?:reduce|compress|distil+|shrink) (?:this|it|the)", r"\bbullet (?:the|these) (?:main|key)")

_FIELD = (r"(?:dates?|names?|emails?|addresses|amounts?|totals?|prices?|phone numbers?|titles?|"
          r"authors?|skus?|quantities|entities|deadlines?|owners?)")
_EXTRACT = _any(
    r"(?<![\w-])extract", r"(?<![\w-])scrape\b", r"\bpull (?:out|the|all|every|each)\b",
    r"\bpull \w+ (?:\w+ )?out\b", r"\bget me (?:all|every|the)\b", r"\bgrab (?:the|all|every)",
    r"\bparse (?:the|this|out|these)", r"\baction items\b", r"\bwho, what,? (?:and )?when\b",
    r"(?:->|→)\s*\w+(?:,\s*\w+){2,}",
    r"\bgive me the (?:\w+ ){0,2}(?:address|number|date|email|phone|total|name|id)s?\b",
    r"\bfields?:", r"\bkey: ?value",
    r"\bkey/value", r"\bjson (?:only|array|list|object)", r"\bjson schema",
    r"\b(?:return|give me|output|as|build) (?:a |an |only )?(?:json|csv)\b",
    r"\blist (?:all|every|each|the) (?:\w+ ){0,4}(?:from|in|mentioned)",
    r"\ba list of (?:all|every|each)\b", r"\{\s*\w+(?:,\s*\w+)+\s*\}",
    r"\bfind (?:all |every |the )?(?:\w+ ){0,3}(?:names?|dates?|emails?|amounts?|urls?|"
    r"phone numbers?|addresses|entities|numbers?)\b",
    r"\b(?:pull|get|grab|return|list|give me|collect|capture|identify|make a (?:table|list) of)"
    r"\b(?:\s+\S+){0,4}?\s+" + _FIELD + r"\b",
    r"\bi need the (?:[\w-]+,? ){1,3}(?:and )?\w+ (?:for|of|from)\b",
    r"\bgive me (?:every|all|each) \w+",
    r"\bwhat'?s the (?:\w+ ){0,3}(?:number|date|name|address|amount|total|id|price) (?:and|in|"
    r"from|of)\b",
    r"\bpick out (?:the )?(?:names|dates|emails|numbers|amounts|urls|links|prices|ids)\b",
    r"\bnamed entities", r"\bidentify the (?:people|names|entities|organi[sz]ations|places)",
    r"\bwho is (?:in|mentioned)", r"\bwhat did each\b", r"\binto (?:fields|street)",
    r"\bwhat (?:\w+ ){1,2}(?:show up|appear|occur) in\b",
    r"\bwhich (?:packages|versions|dates|names)", r"\bwhat are the .{0,40}\b(?:in|from) (?:this|"
    r"the|these)\b",
    r"\bthe (?:\w+ )?(?:hashes|ids|numbers|urls|emails|addresses) of",
    r"\bfill (?:in )?(?:the|these) fields", r"\bstructured (?:data|fields|output)")
_FIELDS_ASKED = _any(
    r"\b(?:json|yaml|csv|a table|an object)\b(?: with| containing| having)?(?: the)?"
    r"(?: fields| keys)?:? (?:[\w-]+ ?){1,3}, (?:[\w-]+ ?){1,3}(?:,| and) ")

_FORMAT = _any(
    r"\breformat", r"\bformat (?:this|it|the|as|these)", r"\bpretty[- ]print", r"\bpretty\b",
    r"\b(?:convert|change|turn|translate|transform|render|rewrite|put|lay)\b[^.?!\n]{0,50}?"
    r"\b(?:to|into|as|in|out on) (?:a |an |valid |plain )?(?:json|yaml|csv|toml|xml|html|markdown|"
    r"plain text|iso[ -]?8601|e\.164|snake_case|camel ?case|kebab-case|title case|sentence case|"
    r"upper ?case|lower ?case|24-hour|numbered list|bulleted list|bullet(?:ed)? (?:points|list)|"
    r"a table|table|separate lines|apa|mla|keep a changelog)",
    r"\b(?:json|yaml|toml|csv|xml|markdown|md) ?(?:->|→|to) ?(?:json|yaml|toml|csv|xml|markdown|"
    r"html|a table)\b",
    r"\bmake (?:this|it) (?:yaml|json|csv|toml|a table)",
    r"\b(?:turn|make|convert) (?:this|these|it) into (?:a |an )?(?:checklist|list|table|bullets|"
    r"outline|columns)",
    r"\b(?:transform|convert|change|rewrite|reformat) (?:this|these|the) (?:csv|json|yaml|xml|"
    r"table|list|dates?|timestamps?) so",
    r"\b(?:snake|camel|kebab)_?case\b", r"\bsentence case", r"\btitle case", r"\bupper-?case",
    r"\blower-?case", r"\bcapitali[sz]e", r"\balphabeti[sz]e", r"\bre-?order", r"\brearrange",
    r"\bwrap (?:\w+ ){0,5}at \d+", r"\bescape (?:this|the)", r"\balign the",
    r"\bsort (?:these|this|the)", r"\balphabetical", r"\bone per line\b", r"\bdedupe",
    r"\b(?:remove|drop|delete) (?:the |all )?duplicate", r"\b(?:as|to|in) iso[ -]?8601",
    r"\b(?:yaml|json|toml|csv|xml|markdown) version of",
    r"^\W*(?:csv|yaml|toml|xml|a markdown table|a table) (?:from|of) (?:this|these)\b",
    r"\b(?:remove|drop) duplicates", r"\bnormali[sz]e",
    r"\bfix the (?:indentation|formatting|capitali[sz]ation|casing|punctuation|spacing|"
    r"line breaks)",
    r"\bclean up (?:the )?(?:spacing|whitespace|line breaks|formatting|indentation|layout)",
    r"\btidy\b", r"\bstrip the", r"\b(?:markdown|html) table",
    r"\bas (?:an? )?(?:ascii|text) table",
    r"\bplain text\b", r"\b(?:comma|semicolon|tab)[- ]separated", r"\bre-?indent",
    r"\bindent (?:this|the|it)", r"\b(?:numbered|bulleted)\b")

_CLASSIFY = _any(
    r"\bclassif", r"\bcategori[sz]", r"\bsentiment", r"\bmood\b", r"\bin one word\b",
    r"\bone word\W*$", r"\bspam\b", r"\bphishing", r"\btriage",
    r"\bintent\b", r"\bpriority\b", r"\bseverity\b", r"\brisk level", r"\btoxicity",
    r"\bwhich (?:category|team|department|bucket|label|queue|topic)",
    r"\b(?:route|assign|send|forward) (?:this|the|each|it)\b[^.?!\n]{0,40}\b(?:to the right|"
    r"to one|to a) (?:team|category|queue|department|person)",
    r"\blabel (?:this|each|the|every)", r"\btag (?:this|each|the)", r"\bbucket (?:these|this|each)",
    r"\bmark (?:this|each|the|every)\b", r"\bsort (?:each|these|the) \w+ into",
    r"\b(?:answer|reply|respond) (?:only )?(?:with )?(?:yes or no|one word|the label|the team|"
    r"the priority|just the)",
    r"\b(?:respond|reply|answer)(?: with| only)? \w+ or \w+\b",
    r"\byes/no", r"\by/n\b", r"\btrue/false", r"\b\w+ / not \w+",
    r"\b\w+\|\w+\|\w+", r"\bone of:", r"\bexactly one of", r"\bone of \[", r"\bone topic",
    r"\bone of (?:the )?(?:two|three|four|five|\d+|these) (?:buckets|categories|groups|classes|"
    r"labels|options)",
    r"\bformal or informal", r"\b\d-\d stars",
    r"\b(?:angry|positive|negative|happy),? (?:\w+,? )?(?:or )?(?:neutral|negative|happy|"
    r"positive)\b",
    r"\bwhat language is", r"\bwhich language\b", r"\blanguage code",
    r"\bdecide (?:if|whether) (?:each|this|it)",
    r"\b(?:determine|decide|tell me) (?:whether|if) (?:this|the|each) \w+ is (?:about|a|an)\b",
    r"\bis (?:this|it) (?:a |an )?(?:\w+ ){0,3}(?:spam|phishing|complaint|breaking change|scam|"
    r"bot|bug report|fraud\w*|legit\w*|suspicious|toxic|relevant|offensive|duplicate)",
    r"\bwhat (?:kind|type|sort) of \w+ is (?:this|it)", r"\bcomplaint, a",
    r"\b(?:output|give|return|pick|choose) (?:one|a|the) (?:label|category|class|tag)",
    r"\bgive (?:each|every) (?:\w+ ){0,4}(?:a|one) (?:category|label|tag|priority|score|rating)")
_CHOICE = _any(r"\b\w+, \w+,? or \w+\?", r"\byes or no\b",
               r"\b(?:a |an )?\w+, (?:a |an )?\w+,? or (?:a |an )?\w+\?")

_SCAN = _any(
    r"\bscan\b", r"\bgrep", r"\bdetect\b", r"\bwatch ?list", r"\blog watcher",
    r"\bcheck (?:whether|if|for|that|it|this|the|these)\b",
    r"\bdoes (?:this|the|it|any)\b[^.?!\n]{0,50}\b(?:contain|mention|include|ask|touch|say|"
    r"auto-?renew|have)",
    r"\bdo any (?:of )?", r"\b(?:is|are) there any", r"\bis any (?:line|row|entry|file|of)",
    r"\b(?:show|contain|include|have) any\b",
    r"\bany (?:5xx|4xx|errors?|warnings?|failed|failures?|mention|secrets?|pii|null|duplicates?)\b",
    r"\banything (?:[\w-]+[- ])?(?:related|suspicious|unusual)", r"\blook (?:for|through)",
    r"\bflag (?:any|every|lines|the|anything|what)", r"\bsearch (?:for|through)",
    r"\bsearch (?:this|the|these) \w+ for\b", r"\bpick out (?:the )?(?:\w+ )?lines",
    r"\bwhich lines", r"\bwhich (?:of these|ones)\b", r"\bspot (?:the|any)",
    r"\bfind (?:the )?(?:rows|lines|entries)", r"\bmake sure (?:there are no|nothing|no)",
    r"\banywhere in\b", r"\bappears? (?:in|anywhere)", r"\bmentioned (?:in|anywhere)",
    r"\bspot (?:lines|rows|entries)", r"\bdid (?:any|anything|a|the) \w+ (?:fail|error|crash)",
    r"\bverify (?:that|every|each)",
    r"\btell me (?:which|if|whether)\b", r"\bneeds? attention", r"\bpoint(?:s|ing)? (?:to|at) ",
    r"\b(?:has|have|did) (?:anyone|anybody|someone|any of)\b")

_CODING_AGENT = _any(r"\bcoding agent", r"\bsoftware engineer", r"\bgit repositor", r"\bcodebase",
                     r"\brun_tests", r"\bwrite_file")
_TOOL_AGENT = _any(r"\btools?\b", r"\bfunction calling", r"\bfunction call", r"\bfunctions?:",
                   r"\b(?:use|call) (?:these|the following) functions", r"\byou can call",
                   r"\bagents?\b", r"\bplanner", r"\borchestrator", r"\bsupervisor",
                   r"\baction input")


def _has_code(text: str) -> bool:
    return bool(_FENCE.search(text)) or len(_CODE_LINE.findall(text)) >= 3


def _requested_words(instruction: str) -> int:
    most = 0
    for number, unit in _LENGTH.findall(instruction):
        value = int(number.replace(",", ""))
        most = max(most, value * 500 if unit.lower().startswith("page") else value)
    return most


def blank_quotes(line: str) -> str:
    """The line with its quoted spans blanked: a headline, an utterance or a ticket title in
    quotes is the material to work on, and its words say nothing about what to do with it."""
    return _QUOTED.sub("'…'", line)


def blank_material(line: str) -> str:
    """The instruction line with the material inside it blanked: its quoted spans
    (blank_quotes), and a list that follows a colon and ends the sentence — the labels to
    choose from, the keys to rename, the fields to pull ("give one category: incidents,
    architecture, testing") are the material the instruction works on, as quoted words are."""
    return _COLON_LIST.sub(lambda m: m.group(1) + ", ".join("…" for _ in
                                                             _LIST_SEP.split(m.group(2))),
                           blank_quotes(line))


def _is_material(line: str, fenced: bool) -> bool:
    """Whether a line is pasted material rather than words to the model, by its shape: in a
    fenced block (`fenced`) or a fence itself; indented; opening with a digit or a symbol (a
    timestamp, an address, a row number, `[`, `{`, `<`, `|`, `#`, `-`, `>`); a syslog time;
    aligned columns; a mail address; a statement's `;` or a block's `{` at its end; no
    spaces, or fewer letters than an instruction has."""
    if fenced or _FENCE_LINE.match(line) or _MATERIAL_LINE.search(line):
        return True
    stripped = line.strip()
    if len(stripped) < MATERIAL_MIN_CHARS:
        return False
    letters = sum(c.isalpha() or c == " " for c in stripped)
    return " " not in stripped or letters < MATERIAL_LETTERS * len(stripped)


def instruction_lines(text: str) -> tuple[str, str]:
    """The lines of a user message that say what to do: the first, and the last when it is
    short (a long line is pasted material, not an instruction) — unless they are material by
    their shape. A message that opens with material says what to do at its end: then the first
    line of the closing run of lines that are not material is its first instruction line. A
    message that is material at both ends has none ("", "").

    Only the lines at the ends are judged (a line is inside a fenced block when an odd number
    of fences come before it), so a long paste costs one pass of the fence pattern."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return (lines[0][:INSTRUCTION_CHARS] if lines else ""), ""
    end = len(lines) - 1
    fences_before_end = len(_FENCES.findall(text)) - bool(_FENCE_LINE.match(lines[end]))
    last_is_material = _is_material(lines[end], fences_before_end % 2 == 1)
    start = 0
    if _is_material(lines[0], False):
        if last_is_material:
            return "", ""
        start, before = end, fences_before_end
        while start > 0:
            fences = before - bool(_FENCE_LINE.match(lines[start - 1]))
            if _is_material(lines[start - 1], fences % 2 == 1):
                break
            start, before = start - 1, fences
    last = (lines[end] if end != start and not last_is_material
            and len(lines[end]) <= INSTRUCTION_CHARS else "")
    return lines[start][:INSTRUCTION_CHARS], last


def instruction_of(messages: list[dict]) -> tuple[str, str]:
    """The instruction lines of a request: the last user message's, or when it is all pasted
    material, those of the latest earlier user message that has some."""
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    for text in reversed(users):
        first, last = instruction_lines(text)
        if first or last:
            return first, last
    return "", ""


def system_text(messages: list[dict]) -> str:
    return " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")


def last_user_text(messages: list[dict]) -> str:
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    return users[-1] if users else ""


def read_prompts(messages: list[dict]) -> tuple[Prompt, Prompt, Prompt]:
    """The prompt as seen through the user's first line, then through the user's first and
    last lines, then through the system message and those lines together."""
    system = system_text(messages).lower()
    last_message = last_user_text(messages)
    first, last = (blank_material(line) for line in instruction_of(messages))
    has_code = _has_code(last_message)
    files = len(_FILE_HEADER.findall(last_message))
    tool_turns = any(m.get("role") == "tool" or m.get("tool_calls") for m in messages)

    def prompt(instruction: str) -> Prompt:
        instruction = instruction.lower()
        return Prompt(instruction, system, has_code, files, tool_turns,
                      _requested_words(instruction))

    # Without a last line the second reading is the first one: the same text, so classify
    # does not try every keyword rule on it again (a one-line request, the commonest kind).
    both_ends = prompt(f"{first}\n{last}") if last else prompt(first)
    return (prompt(first), both_ends,
            prompt(f"{system}\n{first}\n{last}") if system else both_ends)


@dataclass(frozen=True)
class Rule:
    name: str
    task: str
    description: str
    matches: Callable[[Prompt], bool]


def _says(*patterns: Vocabulary) -> Callable[[Prompt], bool]:
    """True when any of the patterns occurs in the instruction."""
    return lambda p: any(pattern.search(p.instruction) for pattern in patterns)


def _says_both(first: Vocabulary, second: Vocabulary) -> Callable[[Prompt], bool]:
    return lambda p: bool(first.search(p.instruction) and second.search(p.instruction))


KEYWORD_RULES: tuple[Rule, ...] = (
    Rule("code-review", "code_review", "code (or a PR/diff) plus a review verb",
         lambda p: (p.has_code or bool(_CODE_CONTEXT.search(p.instruction)))
         and bool(_REVIEW.search(p.instruction)) and not _WHOLE_CODEBASE.search(p.instruction)),
    Rule("final-review", "final_review",
         "a final review, proofreading or a check before publishing or sending",
         _says(_FINAL_REVIEW)),
    Rule("test-gen", "test_gen", "asks for tests, test cases or test data", _says(_TEST_GEN)),
    Rule("bulk-edit", "bulk_edit", "an edit verb (rename, replace, update...) across many files",
         _says_both(_EDIT_VERB, _MANY_FILES)),
    Rule("boilerplate-template", "boilerplate",
         "boilerplate, a scaffold or skeleton, or code following a given pattern",
         _says(_TEMPLATE)),
    Rule("repo-scan", "repo_scan",
         "a find/list/map verb over a codebase, many repositories or many pasted files",
         lambda p: bool(_SCAN_VERB.search(p.instruction))
         and (bool(_CODEBASE.search(p.instruction)) or p.files >= MANY_FILES)),
    Rule("architecture", "architecture",
         "system design, architecture, trade-offs or a choice between infrastructure pieces",
         _says(_ARCHITECTURE)),
    Rule("long-form", "writing",
         f"asks for {LONG_FORM_WORDS}+ words, 2+ pages, or a long-form piece",
         lambda p: p.requested_words >= LONG_FORM_WORDS or bool(_LONG_FORM.search(p.instruction))),
    Rule("writing", "writing", "asks for a kind of document: essay, PRD, speech, eulogy...",
         _says(_WRITING)),
    Rule("boilerplate-config", "boilerplate",
         "asks for a standard config or scaffolding file (Dockerfile, Makefile, unit file...)",
         lambda p: bool(_CONFIG_ARTEFACT.search(p.instruction))
         and not _PROBLEM.search(p.instruction)),
    Rule("code-problem", "code",
         "a code problem to solve: a deadlock, a crash, a failing test, a compiler error",
         _says(_CODE_PROBLEM)),
    Rule("code-ask", "code", "a verb asking for code and a code noun (function, query, cache...)",
         _says(_CODE_ASK)),
    Rule("code-language", "code",
         "starts with a language or a data structure, or asks to build something in a language",
         lambda p: bool(_CODE_FIRST.search(p.instruction)) or bool(
             _CODE_IN_LANGUAGE.search(p.instruction) and _CODE_MAKE.search(p.instruction))),
    Rule("orchestrate", "orchestrate", "planning steps, tools, agents, sub-tasks or what runs next",
         _says(_ORCHESTRATE)),
    Rule("summarize", "summarize", "summarize, tl;dr, key points, a status line, a recap",
         _says(_SUMMARIZE)),
    Rule("extract-fields", "extract", "asks for structured output with named fields",
         _says(_FIELDS_ASKED)),
    Rule("format", "format", "reformat, convert to JSON/YAML/CSV/a table, change case, sort",
         _says(_FORMAT)),
    Rule("extract", "extract", "extract, pull out, parse, action items, return JSON with fields",
         _says(_EXTRACT)),
    Rule("classify", "classify", "classify, categorize, route to a team, label, yes-or-no",
         _says(_CLASSIFY)),
    Rule("scan", "scan", "scan, check whether, look for, flag, which lines", _says(_SCAN)),
    Rule("classify-choice", "classify", "a question offering a few one-word answers",
         _says(_CHOICE)),
)
"""Rules over the words of the instruction, in order of precedence."""

FRAMING_RULES: tuple[Rule, ...] = (
    Rule("coding-agent", "code", "a coding agent's system message and no other rule matched",
         lambda p: bool(_CODING_AGENT.search(p.system))),
    Rule("tool-agent", "orchestrate",
         "the system message offers tools or agents, or tools are being called",
         lambda p: p.tool_turns or bool(_TOOL_AGENT.search(p.system))),
)
"""Rules over the system message: an agent framework frames the request."""

SHAPE_RULES: tuple[Rule, ...] = (
    Rule("code-present", "code", "the prompt holds code and asks to fix or change it",
         lambda p: p.has_code and bool(_CODE_VERB.search(p.instruction))),
    Rule("code-pasted", "code", "the prompt is mostly code", lambda p: p.has_code),
)
"""Rules over the prompt's shape, tried last: pasted code is code work unless the words said
otherwise."""

DEFAULT_RULE = "default: no rule matched (routing.default_task)"


def classify(messages: list[dict], default_task: str = "chat") -> Classification:
    """The task of a chat request and the rule that decided it.

    Rules are tried in order, first match wins: the keyword rules against the first line
    alone (people put the instruction first, and a pasted log's last line may say "summary
    written"), then against the first and last lines, then the framing and keyword rules
    with the system message included, and last the shape rules. A rule is a function of the
    reading alone, so one that did not match a reading is not tried on an equal one again
    (without a system message the last two readings are the same).
    """
    first_line, both_ends, with_system = read_prompts(messages)
    readings = ((first_line, KEYWORD_RULES, "first line"),
                (both_ends, KEYWORD_RULES, "first and last lines"),
                (with_system, FRAMING_RULES + KEYWORD_RULES, "system message and lines"),
                (with_system, SHAPE_RULES, "shape"))
    unmatched: list[tuple[Prompt, set[int]]] = []
    for prompt, rules, where in readings:
        tried = set().union(*(ids for earlier, ids in unmatched if earlier == prompt))
        for rule in rules:
            if id(rule) not in tried and rule.matches(prompt):
                return Classification(rule.task, f"{rule.name} ({where}): {rule.description}")
        unmatched.append((prompt, {id(rule) for rule in rules}))
    return Classification(default_task, DEFAULT_RULE)
