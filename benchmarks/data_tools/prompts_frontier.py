"""Prompts for the frontier tier: writing (long-form or crafted text a human reads, where
quality is the product), architecture (system design and trade-offs) and final_review (the
last careful read before something is published, sent or submitted).

Much of it is phrased without a length ("write the PRD", "compose a eulogy", "plan the
roadmap"), and the review prompts paste documents full of other tasks' words.
"""

from __future__ import annotations

from materials import (
    ANNOUNCEMENT_DRAFT,
    ARCHITECTURE_ARTICLE,
    CONTRACT,
    COVER_LETTER,
    ESSAY_DRAFT,
    RELEASE_NOTES,
    REPO_TREE,
    SUPPORT_EMAIL,
)
from shapes import chat, user

_POSTMORTEM_BULLETS = """- 09:14 deploy api 2.14.1
- 09:16 readiness 503s, ~8% of requests fail
- 09:31 rollback done
- cause: pool size hardcoded to 5, worker needs 12
- fix: make it configurable (API-412), add a load test to CI"""

WRITING = [
    user("Write the PRD for per-key budgets in tierd: problem, users, requirements, non-goals "
         "and success metrics."),
    user("Compose a eulogy for my grandfather. He was a carpenter who loved crosswords and "
         "fixed every wobbly chair in the village."),
    user("Plan the product roadmap for the next two quarters as a document I can share with "
         "the team and the investors."),
    user("Blog post: why we moved our nightly jobs off the cloud. Friendly, first person, "
         "honest about what didn't work."),
    user("I need a cover letter for a platform engineer role at a climate-tech startup. "
         "About me: 6 years of infra, Kubernetes, cut cloud costs 60%, mentor two juniors."),
    user("Best-man speech for my brother's wedding. He's a firefighter and met his wife at a "
         "pub quiz they both lost."),
    user("Draft the README for tierd: what it is, install, quickstart, configuration and an "
         "FAQ."),
    user("A short story about a lighthouse keeper who starts receiving letters from the "
         "future, around 2,000 words."),
    user("Grant application narrative: our nonprofit teaches coding to refugees in Lisbon. "
         "Need-statement, programme, outcomes, budget justification."),
    user("Put together the May newsletter: the 2.3 release, a community spotlight on the "
         "Porto meetup, and what's coming in June."),
    user("Write an essay arguing that small local models are underrated by most engineering "
         "teams."),
    user("Help me write a heartfelt apology to a friend whose wedding I missed because of "
         "work. I want it to sound like me, not a card."),
    user("Prepare the Q2 investor update from these numbers: MRR 42k (+18% QoQ), churn 2.1%, "
         "3 hires, runway 20 months, lost one enterprise pilot."),
    user("Tutorial for beginners: setting up tierd on a Mac Mini with Ollama, step by step, "
         "with the why behind each step."),
    user("Press release for our Series A: $12M led by Northstar Ventures, to expand the "
         "Porto office and launch in Brazil."),
    user("Compose the opening chapter of a fantasy novel set in a city built on the back of "
         "a sleeping whale."),
    user("Op-ed for the local paper on right-to-repair, from the point of view of a small "
         "repair shop owner."),
    user("LinkedIn post about our layoffs: honest, owning the mistake, and what happens next "
         "for the people leaving.",
         system="You are a ghostwriter for a tech CEO. Match her voice: direct, warm, no "
                "buzzwords."),
    user("Turn my bullet points into a proper incident postmortem write-up for the whole "
         "company, blameless tone.\n\n" + _POSTMORTEM_BULLETS),
    user("A toast for my parents' 40th wedding anniversary, about three minutes when spoken."),
    user("Write the user-facing documentation page for budgets and alerts: concepts, "
         "examples, and troubleshooting."),
    user("Create a course outline and the full first lesson for 'SQL for journalists'."),
    chat([("user", "I'm giving a talk at PyCon about routing LLM calls by cost."),
          ("assistant", "Nice topic. A structure that works: the $50/day bill, the rule 'does "
                        "a human read it?', the router, the numbers after, pitfalls."),
          ("user", "great, now write the whole talk script, around 20 minutes spoken")]),
    user("A persuasive proposal to the board for a six-month four-day-week pilot, with the "
         "risks addressed head-on."),
    user("Could you write a poem for my daughter's graduation? Something about leaving "
         "home, not cheesy."),
    user("Case study: how Acme cut their LLM bill by 99% — problem, approach, results, and a "
         "customer quote."),
    user("Draft the strategy memo: should we go open-core or stay fully open source? Make "
         "the best case for each, then recommend one."),
    user("Bedtime story for a four-year-old about a little robot who is afraid of the dark."),
    user("The 'About us' page for our bakery: family-run since 1962 in Porto, sourdough, the "
         "grandmother's recipes."),
    user("Write a thoughtful reply to this long-time customer. They're right about the "
         "billing, wrong about the lock-out, and I want to keep them.\n\n" + SUPPORT_EMAIL),
]

_DIAGRAM = """[web] -> [api x3] -> [postgres primary]
                 \\-> [redis cache]
[cron box] -> [scripts] -> [postgres primary]
[worker x1] <- [redis queue] <- [api]"""

ARCHITECTURE = [
    user("Design the architecture for a multi-tenant job scheduler that runs across three "
         "hosts, with per-tenant quotas."),
    user("SQLite or Postgres for the cost ledger? One writer process, a dashboard that "
         "reads, maybe 5k rows a day."),
    user("How should we split the monolith — by domain or by team? We're 14 engineers."),
    user("We need 10k rps on the search API. Propose a design with caching and sharding, "
         "and say where it breaks first."),
    user("Design the data model for per-key budgets, quotas and alerts, including how "
         "periods roll over."),
    user("Should the router and the model manager be one process or two? Weigh both."),
    user("Event sourcing for our order system: a good idea or overkill at our size (3 devs, "
         "50k orders a month)?"),
    user("What's the right structure for a plugin system so third parties can add CLI verbs "
         "and HTTP routes to our tool?"),
    user("Design offline-first sync for a notes app: conflict resolution, local storage, the "
         "sync protocol."),
    user("Kafka vs Redis Streams vs a SQLite-backed queue for about 100 jobs a minute on one "
         "box?"),
    user("Propose an architecture for retrieval over 40 repos: indexing, storage, retrieval, "
         "freshness, and what runs where on a Mac Mini plus a Linux box."),
    user("How do we do zero-downtime schema migrations with three API instances on a shared "
         "Postgres?"),
    user("Here's our current setup. Where does it break at 10x load, and what would you "
         "change first?\n\n" + _DIAGRAM),
    user("gRPC or REST between our services? Help me think it through for a team that knows "
         "REST well."),
    user("Design a rate-limiting service shared by 20 microservices. Consistency vs latency?"),
    user("How should I lay out the packages of a Python daemon with an HTTP API, a CLI and a "
         "scheduler, so that all three share the same logic?"),
    user("Multi-region active-active for our payments API: what are the options and their "
         "failure modes?"),
    user("What storage layout for 100M embeddings with metadata filtering on a single 64 GB "
         "box?"),
    user("Design the caching strategy for LLM responses: keys, invalidation, TTLs and "
         "privacy between API keys."),
    user("We want real-time collaboration in our markdown editor.",
         system="You are a principal engineer. Be concrete: components, data flow, failure "
                "modes, what you'd build first."),
    user("Monorepo or polyrepo for six services and two frontends, 15 engineers?"),
    user("Design my home lab: a Mac Mini, a Linux box with a 4060 Ti and a NAS, for local LLM "
         "inference, backups and media. How should the pieces talk to each other?"),
    user("Where should authorisation live: the gateway, each service, or a policy service "
         "like OPA? We have 9 services."),
    user("High-level design for a feature-flag system with per-user targeting and gradual "
         "rollouts."),
    user("How would you architect an audit log that nobody, including admins, can tamper "
         "with?"),
    user("Serverless or a small VM fleet for a bursty image-processing workload? Cost, cold "
         "starts, ops burden."),
    chat([("user", "Context: we run 12 cron scripts on one VM, they write to Postgres, a "
                   "Flask app shows dashboards, and an ETL job copies data to BigQuery at "
                   "night."),
          ("assistant", "Got it — a classic single-box batch setup. What are the pain points?"),
          ("user", "jobs overlap, failures are silent, the VM is a single point of failure. "
                   "given all that, what should the target architecture look like?")]),
    user("The repo layout is below. Is this a sensible module boundary for a service that "
         "will grow to 5 teams, or should we restructure now?\n\n" + REPO_TREE),
    user("Schema and indexes for a time series of per-request costs that the dashboard "
         "queries by key, day and model, kept for two years."),
    user("Trade-offs of keeping the vector index in SQLite with sqlite-vec versus running a "
         "separate Qdrant service, at our scale of ~2M chunks?"),
]

_BOARD_MEMO = """To the board — Proposal: move nightly workloads to on-prem inference.
Cost today: ~$1,500/month. After: ~$15/month plus a one-off $2,400 for two machines, paid
back in under two months. Risk: hardware failure; mitigation: cloud fallback already
configured. We ask for approval of the hardware budget at the 3 June meeting."""

_THESIS_ABSTRACT = """This thesis examine how routing requests between local and cloud
language models affects cost and quality. Using a six-month trace of a small team's traffic,
we show that 80% of calls can be served locally with no measurable loss in quality, and that
a simple rule-based classifier captures most of the savings."""

_RESIGNATION = """Hi Marta,

I wanted to let you know that I've decided to leave the company; my last day will be 30 June.
Thank you for everything these four years — I learned more here than anywhere. I'll make sure
the handover of the billing service is complete before I go.

Best, Jonas"""

_SPEECH = """Good evening everyone! For those who don't know me, I'm Tom, Dan's older brother
and the reason he knows how to lose at pub quizzes gracefully. Dan, you've ran into burning
buildings for a living, but I've never seen you as nervous as the day you asked Sara out."""

_PRIVACY = """We keep request logs for 30 days. Prompts are never stored unless you turn on
the response cache, in which case cached responses are kept for up to 24 hours. We do not
sell data. Logs are retained for 90 days for security purposes."""

_MENU = """STARTERS
Caldo verde — kale & potatoe soup, chouriço  6
Pastéis de bacalhau (4)  7.5
MAINS
Bacalhau à Brás  16
Francesinha, fries, egg  14
Vegetarian francesinha (contains egg's)  13"""

_API_DOCS_V2 = """### POST /v2/route
Body: `{"model": "auto", "messages": [...], "task": "summarize"}`
Returns the chosen tier and model. The `task` field overrides the classifier; use the header
`X-Tierd-Task` for the same effect. Example:
    curl -X POST localhost:11500/v2/route -d '{"model": "auto", "mesages": []}'"""

_JOB_AD = """We're looking for a young, energetic rockstar developer to join our crew of
guys building the future of routing. You'll own the backend (Python, SQLite) and ship
features weekly. Native English speakers preferred."""

_BLURB = """When the lighthouse keeper of Far Rock gets a letter dated fifty years from now,
she assumes its a prank. Then the second letter arrives — and it knows the exact hour the
storm will take the harbour."""

FINAL_REVIEW = [
    user("Final review of this announcement before it goes out to all users.\n\n"
         + ANNOUNCEMENT_DRAFT),
    user("Proofread my cover letter, please.\n\n" + COVER_LETTER),
    user("Last pass before I publish — anything wrong or awkward?\n\n" + ESSAY_DRAFT),
    user("Is this ready to send to the board? Go/no-go with reasons.\n\n" + _BOARD_MEMO),
    user("Give the release notes a final read and flag anything unclear to users.\n\n"
         + RELEASE_NOTES),
    user("Check my thesis abstract one last time before I submit it tonight.\n\n"
         + _THESIS_ABSTRACT),
    user("Final check on this grant narrative: typos, tone, and does it answer the funder's "
         "question about outcomes?\n\n" + ARCHITECTURE_ARTICLE),
    user("Before we ship this docs page, read it as a brand-new user and tell me what's "
         "confusing.\n\n" + _API_DOCS_V2),
    user("Sign-off review of the contract clauses we're about to accept — anything risky "
         "left for us as the customer?\n\n" + CONTRACT),
    user("I'm about to hit send on my resignation email. Does it sound ok?\n\n"
         + _RESIGNATION),
    user("Proofread the wedding speech, it's on Saturday.\n\n" + _SPEECH),
    user("Headline: 'Local AI box cuts family's bills by 99%'\n\n" + ESSAY_DRAFT,
         system="You are the last editor before publication at a regional newspaper. Check "
                "facts that can be checked, tone, headline accuracy, and house style."),
    user("Could you do a final polish on this post? Don't rewrite it, just fix what's off.\n\n"
         + ANNOUNCEMENT_DRAFT),
    user("Last look at the press release: are the numbers consistent and the quotes "
         "attributed?\n\nAcme today announced a $12M Series A led by Northstar. \"We're "
         "thrilled,\" said the CEO. The round brings total funding to $10M."),
    user("Is the postmortem ready to share company-wide? Check for blameless tone and "
         "accuracy against the timeline.\n\n" + _POSTMORTEM_BULLETS + "\n\nSummary: Ben's "
         "change took the API down for about an hour."),
    user("Final pass on my speaker notes: clarity, and will it fit in 20 minutes?\n\n"
         "Slide 1: the $50/day bill. Slide 2: the rule. Slide 3-9: the router, live demo. "
         "Slide 10: numbers after routing. Slide 11-14: pitfalls and questions."),
    user("Review the final version of our privacy policy for inconsistencies before it goes "
         "live.\n\n" + _PRIVACY),
    user("One last read of my college application essay please.\n\n" + ESSAY_DRAFT),
    chat([("user", "Can you help me tighten my blog post?\n\n" + ESSAY_DRAFT),
          ("assistant", "Here is a tightened version with the typo fixed and a clearer "
                        "ending. (revised text)"),
          ("user", "ok, this is the final version. anything left before I send it to the "
                   "editor?\n\n" + ESSAY_DRAFT.replace("Their are", "There are"))]),
    user("Proof this menu for our reopening, the printer's deadline is tomorrow.\n\n"
         + _MENU),
    user("Before we publish the German page, check that the translation is faithful.\n\n"
         "EN: Upgrading from 0.9 is a drop-in replacement.\nDE: Das Upgrade von 0.9 erfordert "
         "eine Neuinstallation."),
    user("Pre-publication check of the v2 API docs: broken examples, wrong parameter names, "
         "anything that contradicts itself?\n\n" + _API_DOCS_V2),
    user("QA the newsletter before it goes to 12k subscribers.\n\nHi all! This month: the "
         "2.3 release (per-key budgets!), a spotlight on our Porto meetup, and a sneak peak at "
         "June. As always, reply to this email with feedback."),
    user("Final check before submitting to the conference: does the abstract match the "
         "conclusions?\n\nAbstract: " + _THESIS_ABSTRACT + "\n\nConclusion: about half of "
         "the calls could be served locally; quality dropped on summaries."),
    user("final read of the investor update before it goes out at 9\n\nQ2: MRR 42k (+18%), "
         "churn 2.1%, three hires, runway 20 months. We lost the Helio pilot."),
    user("I've revised the eulogy. Is it ready, or is anything off in tone?\n\nGrandpa "
         "fixed chairs. He fixed them for neighbours, for the school, for people he did not "
         "like. He said a chair that wobbles is a question nobody has answered yet."),
    user("Review the final draft of this job ad for biased language and errors before we "
         "post it.\n\n" + _JOB_AD),
    user("Ready to publish? Check the README reads well and nothing is out of date.\n\n"
         "# tierd\nRoutes prompts to the cheapest model that can do the job.\n## Install\n"
         "pip install tierd\n## Quickstart\ntierd serve  # listens on :8080"),
    user("Sanity-check my book blurb one last time — the printer wants it today.\n\n"
         + _BLURB),
    user("Give a final approve or reject on this apology email to customers, and why.\n\n"
         "Dear customer, we're sorry some of you were charged twice in May. It was a bug in "
         "our billing provider. Refunds will arrive within 5-10 business days."),
]
