"""Words → features for the embedded router: stems, plus shared concepts from a general thesaurus.

Route descriptions and prompts rarely use the same words ("fix this crash" vs "debugging runtime
failures"). Mapping both sides onto concepts lets them meet without a model. There are two kinds:

- intents (`INTENTS`): what a request asks to be done (create, fix, explain, compare, summarize,
  translate, look up, chat…). They apply to any route set.
- domains (`DOMAINS`): what a request is about (code, databases, law, cooking…). A route has a
  domain only when its own name, description or examples use that domain's words, so the table adds
  nothing to a route set it does not describe.

Every word's own stem counts more than its concepts (see `STEM_SHARE`, `CONCEPT_SHARE`): a route's
literal words outweigh thesaurus matches. The lists are general vocabulary of each domain and of how
people phrase requests. Misses on the tuning sets led to entries only as a general phrasing or a
domain's common word, never one prompt's specifics; the held-out sets were not mined for words
(see tests/routing_sets/README.md).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache, reduce
from itertools import chain
from operator import itemgetter, or_
from typing import NamedTuple

#: Languages people ask to translate into or learn ("in Spanish", "the German for").
_LANGUAGES = ("spanish", "french", "german", "italian", "japanese", "chinese", "mandarin", "portuguese", "korean",
              "russian", "dutch", "arabic", "hindi", "english", "polish", "swedish", "greek", "turkish")

#: intent → surface words and phrases (lowercase; single words are stemmed before lookup).
INTENTS: dict[str, tuple[str, ...]] = {
    "i:create": ("write", "wrote", "written", "create", "generate", "implement", "build", "scaffold", "add",
                 "make", "develop", "code up", "produce", "compose", "construct", "author", "set up", "draft",
                 "come up with", "design", "put together", "whip up", "code a", "code an", "code me"),
    "i:document": ("document", "documenting", "annotate", "write up", "write-up", "write down"),
    "i:wish": ("would be great", "would be nice", "would love", "we'd love", "i'd love", "i wish", "we wish",
               "please add", "can you add", "could you add", "can you support", "could you support",
               "feature request", "suggestion", "it would help", "missing feature", "wishlist"),
    "i:modify": ("refactor", "rewrite", "restructure", "clean up", "simplify", "modify", "change", "update",
                 "migrate", "rename", "port", "optimize", "optimise", "improve", "edit", "revise", "rework",
                 "tweak", "speed up", "tune", "tuning", "polish"),
    "i:fix": ("fix", "patch", "repair", "resolve", "correct", "solve", "workaround", "hotfix", "fixing"),
    "i:diagnose": ("debug", "diagnose", "diagnosis", "investigate", "troubleshoot", "troubleshooting",
                   "root cause", "cause", "causing", "why", "figure out", "find out", "what went wrong",
                   "went wrong", "track down", "pinpoint", "where should i look", "what's going on",
                   "what is going on", "why is my", "why does my", "why do my", "why are my", "why did my"),
    "i:explain": ("explain", "explanation", "describe", "walk through", "walk me through", "what does",
                  "how does", "how do", "understand", "understanding", "meaning", "mean", "purpose", "clarify",
                  "tell me what", "how it works", "teach", "elaborate", "interpret", "break down",
                  "difference between", "what is a", "what's a", "why does", "why is", "learn", "learning",
                  "help me understand", "what's the point", "what is the point", "the point of", "how is",
                  "how are", "what this", "what that", "what it does", "what happens", "what's happening",
                  "what is happening", "what is this", "what's this", "what is it doing", "doing with",
                  "role of", "what is the role", "responsible for", "how to", "how can i", "how do i",
                  "where do i", "where can i", "where is the setting", "step-by-step",
                  "step by step instructions", "show me how"),
    "i:review": ("read", "reading", "review", "reviewing", "inspect", "look at", "look over", "audit", "trace",
                 "tracing", "follow", "existing", "flow", "step through", "go over", "go through", "check",
                 "critique", "feedback", "assess", "grade", "proofread", "which functions", "who calls",
                 "where is it used", "called from", "calls", "call sites"),
    "i:compare": ("compare", "comparison", "comparing", "versus", "vs", "tradeoff", "trade-off", "trade offs",
                  "tradeoffs", "pros and cons", "pros", "cons", "evaluate", "evaluating", "weigh", "options",
                  "alternatives", "recommend", "recommendation", "should we", "should i", "better", "choose",
                  "choice", "which one", "decide", "decision", "worth it", "pick", "risk", "risks", "impact",
                  "rank", "ranking", "prioritize", "prioritise", "most important", "matter most", "cheaper",
                  "faster", "worse", "more expensive", "which is better", "which is best", "should our",
                  "should my", "is it worth", "at all", "instead of", "do we need", "enough"),
    "i:reason": ("reason", "reasoning", "think through", "think about", "complex", "multi-step", "step by step",
                 "analysis", "analyze", "analyse", "analytical", "logic", "logical", "deduce", "infer",
                 "estimate", "strategy", "strategic", "in depth", "in-depth", "thorough", "thoroughly",
                 "careful", "detailed", "in detail", "implications", "consequences", "consider", "work out",
                 "justify", "think it through", "effects", "second-order", "ramifications"),
    "i:plan": ("plan", "planning", "roadmap", "decompose", "break into", "milestones", "organize", "organise",
               "schedule", "itinerary", "outline", "checklist", "steps", "decomposition", "break down",
               "tasks for"),
    "i:summarize": ("summarize", "summarise", "summary", "gist", "tl;dr", "tldr", "recap", "digest", "synopsis",
                    "overview", "key points", "condense", "shorten"),
    "i:translate": ("translate", "translation", "how do you say", "in another language",
                    *(f"{word} {lang}" for lang in _LANGUAGES for word in ("in", "into", "to")),
                    *(f"the {lang} for" for lang in _LANGUAGES), *(f"{lang} word for" for lang in _LANGUAGES)),
    "i:convert": ("convert", "conversion", "format", "reformat", "transform", "turn into", "turn this into",
                  "to yaml", "to json", "to csv", "to markdown", "encode", "decode"),
    "i:lookup": ("what is the", "who is", "who was", "who won", "who wrote", "when did", "when was", "where is",
                 "what year", "how many", "how much", "how far", "how old", "how tall", "define", "definition",
                 "fact", "factual", "lookup", "look up", "stand for", "capital of", "synonym", "antonym",
                 "spell", "spelling", "plural of", "past tense of", "opposite of", "rhymes with"),
    "i:chat": ("hi", "hello", "hey", "thanks", "thank you", "thx", "bye", "goodbye", "good morning",
               "good night", "how are you", "chat", "chit-chat", "conversation", "casual", "small talk",
               "cheers", "ok", "okay", "sup"),
    "i:browse": ("browse", "browsing", "search the", "search for", "search online", "look online",
                 "find online", "google", "fetch", "visit", "go to", "open this", "crawl", "scrape", "download",
                 "check the website", "pull up", "search", "searching"),
    "i:compute": ("calculate", "compute", "how much is", "multiply", "divide", "times", "plus", "minus",
                  "sum of", "percent of", "round", "convert units"),
    "i:brainstorm": ("ideas", "brainstorm", "suggest", "suggestions", "come up with", "inspiration",
                     "names for", "tips"),
    "i:respond": ("reply", "respond", "response", "answer", "answering", "handle", "deal with", "message"),
    "i:simple": ("simple", "quick", "short", "trivial", "brief", "easy", "one-liner", "basic", "small", "cheap",
                 "fast"),
    "i:long": ("long", "long-context", "entire", "whole", "lengthy", "huge", "many files", "all of these",
               "synthesis", "synthesize"),
}

#: domain → surface words and phrases. A route gets a domain only through its own words.
DOMAINS: dict[str, tuple[str, ...]] = {
    "d:code": ("code", "coding", "function", "method", "class", "script", "program", "programming", "module",
               "snippet", "endpoint", "component", "library", "api", "cli", "algorithm", "regex",
               "regular expression", "decorator", "loop", "variable", "interface", "struct", "enum", "handler",
               "callback", "async", "await", "compiler", "makefile", "codebase", "repo", "repository",
               "source code", "implementation", "recursion", "recursive", "pointer", "closure", "thread",
               "syntax", "boilerplate", "framework", "dependency", "unit test", "pull request", "diff",
               "commit", "refactor", "parser", "binary", "software", "app", "feature", "bug", "bugs", "git",
               "compile", "build", "test", "tests", "lint", "argument", "parameter", "return value",
               "constructor", "array", "string", "dict", "hash map", "stack", "queue", "plugin", "sdk", "mutex",
               "lock", "semaphore", "channel", "goroutine", "coroutine", "worker", "workers", "cache",
               "caching", "retry", "retries", "config", "configuration", "environment variable", "middleware",
               "resolver", "graphql", "rest api", "grpc", "websocket", "orm", "controller", "request handler",
               "payload", "http client", "jwt", "bitwise", "bit shift", "boolean", "integer", "hash", "big o",
               "complexity", "runtime", "memory", "exception handling", "null", "list comprehension",
               "dict comprehension", "comprehension", "code a", "code an", "code me", "promise", "promises",
               "event loop", "future", "futures", "sql view", "binary search", "linear search",
               "search algorithm", "full-text search", "search index", "search bar", "search function",
               "depth-first search", "breadth-first search", "pseudocode", "generator", "iterator", "hook",
               "hooks", "state management", "setstate", "design pattern", "strategy pattern", "factory pattern",
               "observer pattern", "singleton", "ansible playbook"),
    "d:lang": ("python", "go", "golang", "rust", "typescript", "javascript", "js", "java", "kotlin", "swift",
               "ruby", "php", "bash", "shell", "c++", "cpp", "c#", "haskell", "scala", "elixir", "lua", "perl",
               "nix", "react", "vue", "angular", "django", "flask", "fastapi", "express", "node", "nodejs",
               "rails", "spring", "terraform", "powershell", "zig", "ocaml", "clojure", "dart", "awk", "sed",
               "html", "css", "json", "yaml", "dockerfile", "jsdoc"),
    "d:error": ("bug", "error", "errors", "exception", "crash", "crashes", "crashing", "fail", "fails",
                "failing", "failure", "traceback", "stack trace", "stacktrace", "segfault",
                "segmentation fault", "panic", "panics", "broken", "not working", "doesn't work",
                "does not work", "stopped working", "exit code", "leak", "hang", "hangs", "freeze", "timeout",
                "times out", "timed out", "connection reset", "refused", "refuses", "denied", "oom",
                "out of memory", "killed", "core dump", "deadlock", "race condition", "undefined", "nonetype",
                "regression", "exits", "exited", "abort", "aborted", "flaky", "intermittent", "intermittently",
                "unexpected", "wrong", "issue", "problem", "stuck", "warning", "not found", "cannot", "can't",
                "won't", "unable", "slow", "slowly", "slower", "slowness", "sluggish", "takes forever", "laggy",
                "spike", "spikes", "used to work", "no longer", "anymore", "stopped", "does nothing",
                "nothing happens", "prints nothing", "returns nothing", "empty output", "oom-killed", "random",
                "randomly", "suddenly", "sometimes", "twice", "duplicate", "duplicated", "cold start",
                "cold starts", "went from", "disappear", "disappeared", "vanish", "vanished", "dropped", "lost",
                "could not", "couldn't", "failed to", "unable to", "why is my", "why does my", "why do my",
                "why are my", "why did my", "is down", "went down", "keeps failing", "doesn't", "isn't",
                "didn't", "wasn't", "aren't", "even after", "still shows", "still showing", "too many",
                "in the logs", "logs show", "broke", "breaks", "breaking"),
    "d:ops": ("deploy", "deployment", "deployments", "docker", "kubernetes", "k8s", "kubectl", "pod", "pods",
              "helm", "container", "containers", "systemd", "systemctl", "service", "server", "servers",
              "nixos", "infrastructure", "cluster", "node", "nodes", "ingress", "replica", "replicas",
              "namespace", "load balancer", "nginx", "vm", "cloud", "aws", "gcp", "azure", "devops", "ansible",
              "terraform", "monitoring", "uptime", "scaling", "autoscaling", "rollout", "rollback", "daemon",
              "host", "linux", "cron", "port", "dns", "proxy", "ansible playbook"),
    "d:ci": ("ci", "cd", "ci/cd", "pipeline", "pipelines", "github actions", "gitlab ci", "jenkins", "workflow",
             "workflows", "build", "builds", "artifact", "artifacts", "release", "releases", "tag", "merge",
             "job", "jobs", "stage", "stages", "continuous integration", "continuous delivery",
             "build pipeline", "yaml pipeline", "circleci", "travis", "argo", "argocd", "deploy step",
             "matrix build", "artifact registry", "semantic versioning", "release branch", "nightly build",
             "flaky test", "test stage"),
    "d:database": ("sql", "query", "queries", "database", "databases", "db", "table", "tables", "schema",
                   "schemas", "join", "joins", "index", "indexes", "select", "insert", "postgres", "postgresql",
                   "mysql", "sqlite", "mongodb", "redis", "primary key", "foreign key", "column", "columns",
                   "row", "rows", "transaction", "replication", "backup", "backups", "restore", "vacuum",
                   "group by", "order by", "stored procedure", "migration", "orm", "dba", "query plan",
                   "explain analyze", "deadlock", "lock", "locks", "partition", "partitioning", "sharding",
                   "connection pool", "failover", "wal", "nosql", "cassandra", "elasticsearch", "dynamodb",
                   "normalization", "denormalize", "cte"),
    "d:data": ("data", "dataset", "datasets", "csv", "spreadsheet", "excel", "statistics", "statistical",
               "metrics", "numbers", "trend", "trends", "chart", "charts", "graph", "plot", "dashboard",
               "dashboards", "figures", "correlation", "correlate", "average", "mean", "median", "distribution",
               "regression", "pandas", "percentiles", "a/b test", "cohort", "kpi", "visualization",
               "visualisation", "column", "columns", "aggregate", "group", "analytics", "analyst", "insight",
               "insights", "excel formula", "pivot table", "sql report", "bi", "tableau", "power bi", "looker",
               "histogram", "scatter plot", "outlier", "outliers", "segment", "segmentation", "forecasting",
               "time series", "retention", "funnel", "churn", "growth", "quarter", "quarterly",
               "conversion rate", "users per"),
    "d:security": ("security", "secure", "vulnerability", "vulnerabilities", "cve", "exploit", "attack",
                   "attacker", "malware", "phishing", "secret", "secrets", "credential", "credentials",
                   "password", "passwords", "token", "tokens", "api key", "key", "encryption", "encrypt", "tls",
                   "ssl", "certificate", "certificates", "firewall", "permission", "permissions",
                   "access control", "auth", "authentication", "authorization", "csrf", "xss", "injection",
                   "pentest", "hardening", "breach", "2fa", "mfa", "security review", "threat model",
                   "zero-day", "patching", "least privilege", "rbac", "iam", "vault", "audit log", "intrusion",
                   "ddos", "ransomware", "sso", "oauth", "hashing", "salted", "secure coding", "owasp", "sast",
                   "scanner", "two-factor", "authenticator", "login from", "logged in", "logged into",
                   "suspicious", "unauthorized", "hacked", "compromised"),
    "d:web": ("website", "websites", "web", "web page", "webpage", "url", "urls", "link", "internet", "online",
              "wikipedia", "news", "site", "sites", "page", "pages", "status page", "blog", "headlines",
              "latest", "today's", "today", "currently", "right now", "recent", "this week", "weather",
              "forecast", "exchange rate", "homepage", "search engine", "search online", "look online",
              "find online", "search the web", "search the internet", "price of", "the price", "how much does",
              "tonight", "tonight's", "near me", "nearest", "phone number", "article", "articles", "newest",
              "latest version", "newest version", "this weekend", "showtimes", "playing at", "newer version",
              "new version", "newer release"),
    "d:docs": ("documentation", "document", "docs", "doc", "readme", "docstring", "docstrings", "comment",
               "comments", "changelog", "release notes", "guide", "user guide", "manual", "tutorial",
               "commit message", "api docs", "decision record", "adr", "wiki", "technical writing", "howto",
               "how-to", "faq", "man page", "annotate", "onboarding doc", "specification", "contributing",
               "announcement", "section", "getting started", "openapi", "reference", "runbook", "playbook",
               "handbook", "design doc", "write-up", "instructions", "upgrade guide", "migration guide",
               "notice", "glossary", "pr description", "pull request description", "deprecation notice",
               "code of conduct", "description", "descriptions"),
    "d:legal": ("legal", "law", "laws", "lawyer", "attorney", "contract", "contracts", "agreement",
                "agreements", "clause", "clauses", "nda", "terms", "terms of service", "terms and conditions",
                "privacy policy", "compliance", "compliant", "gdpr", "hipaa", "ccpa", "regulation",
                "regulations", "liability", "liable", "indemnify", "indemnification", "warranty", "license",
                "licensing", "copyright", "trademark", "patent", "lawsuit", "sue", "court", "jurisdiction",
                "enforceable", "non-compete", "tenant", "landlord", "lease", "rights", "consent",
                "breach of contract", "legally", "illegal", "statute", "litigation", "arbitration", "tort",
                "negligence", "defamation", "settlement", "plaintiff", "defendant", "notary",
                "power of attorney", "employment law", "intellectual property", "data protection", "eula",
                "sla"),
    "d:creative": ("story", "stories", "poem", "poems", "poetry", "haiku", "limerick", "sonnet", "verse",
                   "lyrics", "song", "songs", "fiction", "novel", "novels", "creative", "character",
                   "characters", "scene", "chapter", "fantasy", "fairy tale", "screenplay", "dialogue",
                   "narrative", "rhyme", "rhyming", "metaphor", "once upon a time", "short story", "tale",
                   "imaginative", "write a story", "bedtime story", "fable", "myth", "sci-fi",
                   "science fiction", "romance", "mystery", "horror", "comedy", "protagonist", "villain",
                   "hero", "worldbuilding", "prose poem", "stanza", "couplet", "free verse", "ballad", "rap",
                   "monologue", "short fiction", "storytelling"),
    "d:marketing": ("marketing", "campaign", "campaigns", "brand", "branding", "slogan", "tagline",
                    "social media", "instagram", "linkedin", "twitter", "tiktok", "facebook", "post", "posts",
                    "caption", "captions", "newsletter", "ad", "ads", "advert", "advertising", "seo",
                    "audience", "launch", "promotion", "promo", "press release", "copy", "copywriting",
                    "landing page", "engagement", "followers", "content", "tweet", "tweets", "marketing email",
                    "email campaign", "subject line", "call to action", "brand voice", "conversion rate",
                    "influencer", "hashtag", "hashtags", "go-to-market", "positioning", "messaging",
                    "blog post", "ad copy", "product launch"),
    "d:sales": ("sales", "sell", "selling", "prospect", "prospects", "lead", "leads", "pitch", "pitching",
                "cold email", "outreach", "deal", "deals", "negotiate", "negotiation", "proposal", "quote",
                "discount", "pricing", "crm", "pipeline", "demo", "client", "clients", "buyer", "objection",
                "close", "closing", "upsell", "follow-up", "follow up", "account executive", "license", "seats",
                "contract", "sales call", "discovery call", "quota", "renewal", "churn risk", "decision maker",
                "value proposition", "b2b", "cold call", "prospecting", "sales pitch", "close the deal"),
    "d:support": ("customer", "customers", "support", "complaint", "complaints", "refund", "refunds", "order",
                  "orders", "ordered", "shipping", "shipped", "delivery", "delivered", "package", "parcel",
                  "tracking", "arrived", "return", "returns", "replacement", "exchange", "warranty", "charged",
                  "charge", "billing", "invoice", "subscription", "cancel", "cancellation", "account", "login",
                  "log in", "password reset", "reset my password", "angry", "apology", "apologize", "ticket",
                  "help desk", "helpdesk", "purchase", "bought", "damaged", "missing", "store credit",
                  "customer service", "support ticket", "order number", "tracking number", "out of stock",
                  "voucher", "coupon", "store", "shop", "seller", "faulty", "defective", "broken item",
                  "compensation", "escalate", "escalation", "unsubscribe", "locked out", "can't log in"),
    "d:math": ("math", "maths", "mathematics", "algebra", "calculus", "geometry", "trigonometry", "equation",
               "equations", "solve for", "derivative", "derivatives", "integral", "integrate", "limit",
               "limits", "proof", "prove", "theorem", "lemma", "probability", "statistics", "p-value",
               "variance", "standard deviation", "matrix", "matrices", "vector", "vectors", "slope",
               "polynomial", "factor", "fraction", "fractions", "percent", "percentage", "division",
               "multiplication", "arithmetic", "square root", "exponent", "power", "logarithm", "triangle",
               "circle", "area", "angle", "angles", "permutation", "combination", "combinations", "prime",
               "sequence", "homework", "solve", "addition", "subtraction", "multiply", "times table", "decimal",
               "decimals", "ratio", "proportion", "inequality", "quadratic", "linear", "graphing", "coordinate",
               "coordinates", "parabola", "sine", "cosine", "tangent", "pythagorean", "hypotenuse", "volume",
               "perimeter", "radius", "diameter", "odds", "dice", "differentiate", "induction", "set theory",
               "modulo", "exponential", "calculate", "formula", "sum", "quotient", "remainder", "mathematical",
               "least common multiple", "greatest common divisor", "lcm", "gcd", "multiple of", "divisible",
               "factorial", "mean median mode"),
    "d:science": ("science", "physics", "chemistry", "biology", "experiment", "experiments", "lab",
                  "lab report", "hypothesis", "atom", "atoms", "molecule", "molecules", "cell", "cells",
                  "energy", "force", "gravity", "velocity", "acceleration", "reaction", "chemical", "element",
                  "elements", "periodic table", "acid", "base", "evolution", "dna", "gene", "genes", "organism",
                  "ecosystem", "light", "wavelength", "electron", "electricity", "magnet", "temperature",
                  "density", "planet", "planets", "motion", "friction", "momentum", "mass", "wave", "waves",
                  "sound", "magnetism", "circuit", "voltage", "resistance", "heat", "thermodynamics",
                  "pressure", "nuclear", "radioactive", "isotope", "ion", "chemical bond", "compound",
                  "mixture", "ph", "enzyme", "protein", "virus", "bacteria", "immune system", "organ",
                  "species", "habitat", "food chain", "ecology", "genetics", "inheritance", "chromosome",
                  "respiration", "digestion", "anatomy", "astronomy", "star", "stars", "galaxy", "solar system",
                  "orbit", "moon", "volcano", "earthquake", "rock", "mineral", "fossil", "scientific",
                  "scientist", "physical", "biological", "oxygen", "carbon", "hydrogen", "nitrogen", "metal",
                  "solid", "liquid", "gas", "catalyst", "photon", "friction force", "conductor", "insulator",
                  "evaporation", "condensation"),
    "d:history": ("history", "historical", "historian", "war", "wars", "world war", "battle", "empire",
                  "emperor", "king", "queen", "revolution", "century", "ancient", "medieval", "dynasty",
                  "civilization", "treaty", "era", "colonial", "independence", "cold war", "roman", "rome",
                  "greek", "industrial revolution", "renaissance", "president", "historical figure", "event",
                  "events", "reign", "ancient egypt", "ancient greece", "middle ages", "feudalism", "crusades",
                  "colonialism", "slavery", "civil war", "constitution", "monarchy", "republic", "democracy",
                  "parliament", "invasion", "conquest", "explorer", "exploration", "armistice", "holocaust",
                  "nazi", "soviet", "napoleon", "caesar", "viking", "vikings", "samurai", "ottoman",
                  "byzantine", "mongol", "aztec", "inca", "timeline", "19th century", "20th century", "kingdom",
                  "pharaohs", "historically", "who was", "who were", "what was", "what were", "when was",
                  "when did", "why did", "what caused", "how did", "who built", "who invented",
                  "who discovered", "who founded"),
    "d:language": ("language", "languages", "grammar", "vocabulary", "word", "words", "verb", "verbs", "noun",
                   "nouns", "conjugate", "conjugation", "tense", "pronounce", "pronunciation", "accent",
                   "spanish", "french", "german", "italian", "japanese", "chinese", "mandarin", "portuguese",
                   "korean", "russian", "dutch", "arabic", "hindi", "english", "sentence", "phrase", "phrases",
                   "fluent", "native speaker", "plural", "idiom", "meaning of", "past tense", "present tense",
                   "subjunctive", "gender", "masculine", "feminine", "adjective", "adverb", "pronoun",
                   "preposition", "vocab", "flashcards", "fluency", "speaking", "alphabet", "kanji", "hiragana",
                   "dialect", "duolingo", "learner", "bilingual", "mother tongue", "irregular verb",
                   *(f"{word} {lang}" for lang in _LANGUAGES for word in ("in", "into", "to"))),
    "d:essay": ("essay", "essays", "thesis", "paragraph", "paragraphs", "argument", "argumentative",
                "introduction", "intro", "conclusion", "student", "citation", "citations", "rubric", "prose",
                "outline", "topic sentence", "body paragraph", "evidence", "persuasive", "narrative essay",
                "word count", "plagiarism", "mla", "apa", "bibliography", "revision", "grade", "grading",
                "assignment", "coursework", "clarity", "opening sentence", "opening line", "engaging",
                "word limit", "application essay"),
    "d:finance": ("finance", "financial", "accounting", "accountant", "bookkeeping", "ledger", "invoice",
                  "invoices", "expense", "expenses", "budget", "budgets", "cash flow", "revenue", "profit",
                  "loss", "tax", "taxes", "vat", "deduct", "deductible", "deduction", "balance sheet",
                  "income statement", "payroll", "accrual", "depreciation", "capex", "opex", "audit",
                  "forecast", "bank", "transactions", "reconcile", "reconciliation", "payment", "paid",
                  "unpaid", "money", "cost", "costs", "price", "interest", "loan", "loans", "debt", "credit",
                  "dollars", "euros", "salary", "savings", "saving", "invest", "investing", "investment",
                  "stocks", "bonds", "fund", "funds", "retirement", "pension", "mortgage", "income",
                  "credit card", "credit cards", "financially", "bookkeeper", "accounts payable",
                  "accounts receivable", "gross margin", "net income", "ebitda", "valuation", "equity",
                  "shares", "dividend", "inflation", "roi", "spend", "spending", "receipt", "receipts",
                  "tax return", "write off", "financial statement", "quarterly", "fiscal"),
    "d:hr": ("hr", "human resources", "hire", "hiring", "recruit", "recruiting", "recruiter", "candidate",
             "candidates", "interview", "interviews", "job description", "job posting", "job ad", "employee",
             "employees", "staff", "manager", "onboarding", "new hire", "offboarding", "performance review",
             "performance", "promotion", "policy", "policies", "leave", "parental leave", "vacation",
             "remote work", "resign", "resignation", "termination", "fire", "firing", "compensation",
             "benefits", "team", "workplace", "harassment", "handbook", "headcount", "colleague", "coworker",
             "team lead", "onboard", "hr policy", "sick leave", "overtime", "contractor", "salary band",
             "disciplinary", "grievance", "feedback session", "1:1", "one-on-one", "culture"),
    "d:health": ("fitness", "workout", "workouts", "exercise", "exercises", "training", "train", "gym",
                 "strength", "cardio", "run", "running", "runner", "marathon", "jog", "stretch", "stretches",
                 "stretching", "muscle", "muscles", "squat", "squats", "routine", "sets", "weight",
                 "lose weight", "calories", "yoga", "cycling", "swim", "swimming", "endurance", "sport",
                 "sports", "athlete", "warm up", "cool down", "sprint", "jogging", "lifting", "weights",
                 "bench press", "deadlift", "plank", "mobility", "flexibility", "recovery", "rest day",
                 "heart rate", "pace", "half marathon", "triathlon", "pilates", "crossfit", "bodyweight",
                 "physique"),
    "d:food": ("cooking", "cook", "recipe", "recipes", "meal", "meals", "dinner", "lunch", "breakfast", "bake",
               "baking", "roast", "oven", "ingredient", "ingredients", "substitute", "substitution", "kitchen",
               "dish", "dishes", "vegetarian", "vegan", "soup", "sauce", "bread", "pasta", "flour", "sugar",
               "boil", "fry", "grill", "eat", "food", "snack", "dessert", "cake", "menu", "meal prep", "stew",
               "salad", "vegetables", "spices", "spice", "marinade", "dough", "pan", "pot", "boiled", "fried",
               "baked", "cuisine", "leftovers", "grocery", "groceries", "portion", "servings", "gluten-free",
               "dairy", "protein"),
    "d:travel": ("travel", "traveling", "travelling", "trip", "trips", "itinerary", "flight", "flights", "fly",
                 "airport", "hotel", "hotels", "hostel", "stay", "visit", "visiting", "tourist", "sightseeing",
                 "destination", "vacation", "holiday", "visa", "passport", "pack", "packing", "luggage",
                 "train", "city", "cities", "country", "abroad", "road trip", "things to do", "museum", "beach",
                 "hiking", "tour", "tourism", "tourists", "journey", "accommodation", "airbnb", "booking",
                 "layover", "jet lag", "backpacking", "cruise", "resort", "landmarks", "attractions",
                 "train ticket", "car rental", "guidebook", "currency", "customs"),
    "d:garden": ("garden", "gardening", "plant", "plants", "planting", "grow", "growing", "seed", "seeds",
                 "soil", "compost", "watering", "lawn", "grass", "weed", "weeds", "pest", "pests", "aphids",
                 "prune", "pruning", "vegetable", "vegetables", "herb", "herbs", "tree", "trees", "shrub",
                 "bush", "succulent", "fertilizer", "pot", "bloom", "harvest", "sun", "gardener", "greenhouse",
                 "mulch", "seedling", "seedlings", "germinate", "transplant", "perennial", "hedge", "orchard",
                 "fruit tree", "raised bed", "potting", "houseplant", "houseplants", "irrigation", "frost",
                 "slugs", "fungus", "mildew", "yard"),
}

#: Every concept, for the tables below; `INTENT_CONCEPTS` tells the two kinds apart.
CONCEPTS: dict[str, tuple[str, ...]] = {**INTENTS, **DOMAINS}
INTENT_CONCEPTS = frozenset(INTENTS)
#: Words route descriptions use for "requests" in general: they say nothing about which route.
GENERIC = frozenset({"question", "task", "answer", "thing", "stuff", "request", "help", "work",
                     "problem", "issue", "general", "other", "various", "etc", "topic", "kind", "new",
                     "way", "good", "best", "bit", "lot", "something", "anything"})

STOPWORDS = frozenset(
    "a an the and or but of to in on at for with from by as is are was were be been being it its this "
    "that these those i me my we our you your he she they them their there here do does did doing "
    "have has had having can could would should will shall may might must not no so if then than "
    "into onto about over under again further once all any both each few more most other some such "
    "only own same too very just also please pls now up out off what which who whom how when where "
    "give tell let get got want need like one two via using use without within help can't don't".split())

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#%']*(?:[-.][a-z0-9+#]+)*|%")
_SUFFIXES = (("ization", "iz"), ("ation", "at"), ("ement", ""), ("ment", ""), ("ingly", ""),
             ("ing", ""), ("edly", ""), ("ed", ""), ("ure", ""), ("ly", ""), ("e", ""))
_KEEP = frozenset({"news", "always", "status", "analysis", "series", "species", "yes", "plus"})
#: Mentioning a language or a test says the task is about code.
#: Naming a language or SQL says the task is about code; weighing options is reasoning; searching
#: and browsing happen on the web. The implied concept gets `IMPLIED_SHARE` of the implying one's weight.
IMPLIES = {"d:lang": "d:code", "d:database": "d:code", "i:compare": "i:reason", "i:summarize": "i:explain",
           "i:browse": "d:web"}
IMPLIED_SHARE = 0.5


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
        if word.endswith(suffix) and len(word) - len(suffix) >= (4 if suffix.endswith("ment") else 3):
            base = word[: -len(suffix)]
            if not replacement and len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # running → run, debugging → debug
            return base + replacement
    return word


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


#: first stem → second stem → (phrase stems, concepts), longest phrase first.
Phrase = tuple[tuple[str, ...], frozenset[str]]
Phrases = dict[str, dict[str, tuple[Phrase, ...]]]


def _build_tables() -> tuple[dict[str, frozenset[str]], Phrases]:
    """Word → concepts, and the phrases by their first two stems (a token looks up only the phrases
    its next token can continue: "in" starts dozens of phrases, "in spanish" one)."""
    words: dict[str, set[str]] = {}
    phrases: dict[tuple[str, ...], set[str]] = {}
    for concept, surfaces in CONCEPTS.items():
        for surface in surfaces:
            parts = tuple(stem(t) for t in tokens(surface))
            if len(parts) == 1:
                words.setdefault(parts[0], set()).add(concept)
            elif parts:
                phrases.setdefault(parts, set()).add(concept)
    by_start: dict[str, dict[str, list[Phrase]]] = {}
    for parts, concepts in phrases.items():
        by_start.setdefault(parts[0], {}).setdefault(parts[1], []).append((parts, frozenset(concepts)))
    return ({k: frozenset(v) for k, v in words.items()},
            {first: {second: tuple(sorted(found, key=lambda p: -len(p[0]))) for second, found in seconds.items()}
             for first, seconds in by_start.items()})


WORD_CONCEPTS, PHRASES_BY_FIRST = _build_tables()
_NO_PHRASES: dict[str, tuple[Phrase, ...]] = {}
_GENERIC_STEMS = frozenset(map(stem, GENERIC))
#: A word counts fully through its own stem and partly through each of its concepts, so a route's
#: literal words outweigh a thesaurus match.
STEM_SHARE = 1.0
CONCEPT_SHARE = 0.8
#: Words that only say what kind of request it is ("write", "explain") are general: their own stem
#: counts this much; generic words ("task", "question") count less.
INTENT_STEM_SHARE = 0.5
GENERIC_SHARE = 0.25
#: "exits with code 137", "returned status 500": a numeric code is a failure report, not code.
_STATUS_CODE = re.compile(r"\b(?:code|status)\s+-?\d+\b", re.I)
#: "returns 500", "a 502 bad gateway": an HTTP error status next to a word that says so.
_HTTP_STATUS = re.compile(r"\b(?:returns?|returned|returning|got|getting|gives?|throws?|shows?|showing|http|with|an?)"
                          r"\s+[45]\d\d\b"
                          r"|\b[45]\d\d\s+(?:errors?|bad|internal|not|forbidden|unauthori[sz]ed|gateway|service"
                          r"|too)\b")
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
#: `KeyError`, `NullPointerException`, `ImagePullBackOff`: a token naming an error state is a failure report.
_ERROR_SUFFIXES = ("error", "exception", "backoff", "failed", "failure", "timeout")
_URL_FLAG, _CODE_FLAG, _LINE_END_FLAG, _STATUS_FLAG, _ERROR_FLAG, _HTTP_FLAG, _MONEY_FLAG = 1, 2, 4, 8, 16, 32, 64
#: "$49", "€1,200": an amount of money.
_CURRENCY = "$€£¥"
#: Bounds of the per-chunk cache. Longer chunks (pasted blobs, minified code) rarely repeat and are
#: analysed each time; when the cache is full it starts over, a prompt's chunks refill it at once.
_CACHED_CHUNK_CHARS = 48
_CACHED_CHUNKS = 16384


class Lexeme(NamedTuple):
    """What `analyse` needs to know about one token, worked out once per distinct token."""

    stem: str
    pairs: tuple[tuple[str, float], ...]  # (feature, weight) one mention adds: its stem, its concepts
    content: bool  # not a stopword: counts towards the lead words
    phrases: dict[str, tuple[Phrase, ...]]  # phrases that start here, by their second stem


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
    if not concepts and "-" in token:  # "oom-killed", "callback-based": what the parts mean
        concepts = frozenset().union(*(WORD_CONCEPTS.get(stem(part), ()) for part in token.split("-")))
    content = token not in STOPWORDS and st not in STOPWORDS
    # "why", "how" are stopwords but still cue a concept.
    share = (GENERIC_SHARE if st in _GENERIC_STEMS else
             INTENT_STEM_SHARE if concepts and concepts <= INTENT_CONCEPTS else STEM_SHARE)
    own = ((st, share),) if content else ()
    return Lexeme(st, own + tuple((c, CONCEPT_SHARE) for c in sorted(concepts)), content,
                  PHRASES_BY_FIRST.get(st, _NO_PHRASES))


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
    if len(word) == 3 and word[0] in "45" and word.isdigit():
        flags |= _HTTP_FLAG
    if len(chunk) > 1 and chunk[0] in _CURRENCY and chunk[1].isdigit():
        flags |= _MONEY_FLAG
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
        following = phrases.get(lexemes[i + 1].stem, ()) if phrases and i + 1 < len(lexemes) else ()
        for parts, concepts in following:  # leftmost-longest: the longest phrase starting here
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
        counts["d:web"] = counts.get("d:web", 0.0) + 2.0
        counts["i:browse"] = counts.get("i:browse", 0.0) + 1.0
    if flags & _CODE_FLAG or flags & _LINE_END_FLAG and _LINE_END.search(text):
        counts["d:code"] = counts.get("d:code", 0.0) + 1.0
    if flags & _ERROR_FLAG or flags & _HTTP_FLAG and _HTTP_STATUS.search(text.lower()):
        counts["d:error"] = counts.get("d:error", 0.0) + 1.0
    if flags & _MONEY_FLAG:
        counts["d:finance"] = counts.get("d:finance", 0.0) + 1.0
    for concept, implied in IMPLIES.items():
        if concept in counts:
            counts[implied] = max(counts.get(implied, 0.0), counts[concept] * IMPLIED_SHARE)
    return Analysis({f: n if n <= 1.0 else _saturate(n) for f, n in counts.items()}, words)


def cues(text: str) -> dict[str, tuple[str, ...]]:
    """Feature → the words of `text` that produce it, for `route --explain` (phrases are matched
    word by word here, so a concept only a phrase cues has no words)."""
    found: dict[str, list[str]] = {}
    for token in tokens(text):
        for feature, _ in _lexeme(token).pairs:
            if token not in found.setdefault(feature, []):
                found[feature].append(token)
    return {f: tuple(words) for f, words in found.items()}

def is_topic(feature: str) -> bool:
    """Whether a route feature says what the route is about (a domain, or a word that is neither an
    intent word nor a generic one like "task"), as opposed to what kind of request it serves."""
    if feature.startswith("d:"):
        return True
    if feature.startswith("i:"):
        return False
    concepts = WORD_CONCEPTS.get(feature)
    if concepts and concepts <= INTENT_CONCEPTS:
        return False
    return feature not in _GENERIC_STEMS


def features(text: str, *, lead: int = 0, lead_weight: float = 1.0) -> dict[str, float]:
    """`analyse(...).features`: a route's name, description and examples are read this way."""
    return analyse(text, lead=lead, lead_weight=lead_weight).features


def _saturate(count: float) -> float:
    """1 for one mention, slowly more for repeats: a route described by five error words is more
    about errors than one naming a single bug, but not five times more."""
    return count if count <= 1.0 else 1.0 + 0.5 * math.log(count)
