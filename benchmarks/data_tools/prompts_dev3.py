"""The third development set: a check of the rule changes made on the second (prompts_dev2.py)
before the test part is run, written after those changes from the task definitions alone,
with material of its own and in shapes the second set has few of: mail digests, calendar and
ledger exports, SQL output, dependency lock files, translation strings, chat exports, and
grunt work whose instruction comes last, after the material. `make_dev.py` writes them to
benchmarks/data/routing_dev3.jsonl.
"""

from __future__ import annotations

from shapes import agent, chat, user

SQL_OUT = """ tenant  | jobs | failed | p95_ms
---------+------+--------+--------
 acme    | 1204 |      3 |    410
 globex  |  880 |     41 |   2210
 initech |   95 |      0 |    120
(3 rows)"""

LOCKFILE = """[[package]]
name = "tokio"
version = "1.38.0"
[[package]]
name = "serde"
version = "1.0.203"
[[package]]
name = "openssl"
version = "0.10.55\""""

CAL = """BEGIN:VEVENT
SUMMARY:Architecture review — ingest v2
DTSTART:20260604T140000Z
LOCATION:Room 3 / Meet
END:VEVENT
BEGIN:VEVENT
SUMMARY:Dentist
DTSTART:20260605T083000Z
END:VEVENT"""

STRINGS = """{"login.title": "Sign in", "login.error": "Wrong password, try again",
 "review.submit": "Submit for review", "debug.banner": "Debug mode is on"}"""

MAILS = """1. From: ci@builds.example — "Build 4411 failed on main (test_router)"
2. From: maria@partner.example — "Can we move Thursday's design review to 3pm?"
3. From: noreply@bank.example — "Your statement for May is ready"
4. From: security@cloud.example — "Action required: rotate exposed access key AKIA…"
"""

CPP = """```cpp
// TODO: this leaks when parse() throws; refactor to RAII
Buffer* load(const char* path) {
    Buffer* b = new Buffer(4096);
    parse(path, b);  // FIXME(ivan): handle EINTR
    return b;
}
```"""

LEDGER = """date,description,amount
2026-05-02,AWS EMEA,-412.10
2026-05-03,Stripe payout,1830.00
2026-05-03,AWS EMEA,-412.10
2026-05-09,Figma,-45.00"""

DEPLOY_LOG = """[deploy] building image api:4.19.0 ... done (212 s)
[deploy] running migrations ... 0043_add_quota.sql ok
[deploy] rolling out 3/3 pods ... pod api-2 failed readiness (connection refused)
[deploy] rollback to 4.18.2 ... done
[deploy] finished with status: ROLLED_BACK"""

DEV3: dict[str, list[list[dict]]] = {
    "classify": [
        user(f"For each mail say urgent, normal or ignore, as '1: urgent'.\n{MAILS}"),
        user(f"{SQL_OUT}\n\nWhich tenant is unhealthy? Answer with the tenant name only."),
        user("Is this commit message conventional-commit compliant? yes/no\n'refactor the "
             "architecture of the review pipeline'"),
        chat([("user", "Can you help me sort expenses? I'll send the lines, you give each a "
                       "category: cloud, income, software."),
              ("assistant", "Sure — send them over."),
              ("user", LEDGER)]),
        user(f"{DEPLOY_LOG}\n\nDid this deploy succeed, fail, or roll back? One word."),
    ],
    "extract": [
        user(f"Pull the package names and versions from this lock file as JSON.\n{LOCKFILE}"),
        user(f"List the TODO/FIXME comments in this C++ with who owns each.\n{CPP}"),
        user(f"Extract the event titles and start times from this calendar export.\n{CAL}"),
        user(f"{MAILS}\nGive me the sender addresses only."),
        user(f"Grab every key from these translation strings, one per line.\n{STRINGS}"),
        agent("You are a helpful assistant with access to the following tools: run_sql(query)",
              "What's the failure count per tenant?",
              [("run_sql", {"query": "select tenant, failed from jobs"}, SQL_OUT)]),
    ],
    "format": [
        user(f"Convert this SQL output into a markdown table.\n{SQL_OUT}"),
        user(f"Turn these translation strings into YAML, same keys.\n{STRINGS}"),
        user(f"{LEDGER}\n\nsort by amount, largest first, keep it CSV"),
        user("camelCase these keys: review_status, debug_mode, architecture_id"),
    ],
    "summarize": [
        user(f"Status line for the deploy dashboard, under 60 characters.\n{DEPLOY_LOG}"),
        user(f"Summarize today's inbox in two lines.\n{MAILS}"),
        user(f"{SQL_OUT}\n\nOne sentence for the weekly report on how the tenants did."),
        user(f"Describe what this C++ function does in one sentence for the code index.\n{CPP}"),
        chat([("user", DEPLOY_LOG),
              ("assistant", "That's a deploy log ending in a rollback. What do you need?"),
              ("user", "a one-line summary for #releases")]),
    ],
    "scan": [
        user(f"Any packages in this lock file with known-bad versions of openssl (< 0.10.60)?"
             f"\n{LOCKFILE}"),
        user(f"Did any migration fail in this deploy log?\n{DEPLOY_LOG}"),
        user(f"Are there duplicate charges in this ledger?\n{LEDGER}"),
        user(f"Does any of these mails mention an exposed key?\n{MAILS}"),
        user(f"{CAL}\n\nIs anything scheduled on 5 June? yes or no"),
    ],
    "repo_scan": [
        user("Across the 40 repos, list every service that still uses openssl 0.10.55."),
        user("Scan the whole codebase for raw SQL string concatenation and report file:line."),
    ],
    "bulk_edit": [
        user("Rename the config key debug_mode to log_debug in every YAML file and in the "
             "code that reads it."),
    ],
    "boilerplate": [
        user("Dockerfile for this Rust service: multi-stage, static binary, scratch base."),
    ],
    "test_gen": [
        user(f"Write gtest unit tests for load(), including a parse() that throws.\n{CPP}"),
    ],
    "chat": [
        user("What's the difference between a review and an audit, in accounting?"),
        user("why is my cat obsessed with cardboard boxes?"),
        chat([("user", "I just passed my driving test!"),
              ("assistant", "Congratulations! How do you feel?"),
              ("user", "relieved lol. any tips for the first week of driving alone?")]),
    ],
    "orchestrate": [
        user("You have the tools run_sql, post_slack and open_ticket. Plan the calls to alert "
             "the owner of any tenant whose failure rate is over 2 %."),
        user("Our agents: Triage, Fixer, Reviewer. A ticket came in about a failing deploy. "
             "Who should take it first and what do they hand off?"),
    ],
    "code": [
        user(f"Fix the leak in load() with RAII, keep the signature.\n{CPP}"),
        user("Write a Go function that retries an HTTP call with jittered backoff and a "
             "context deadline."),
    ],
    "code_review": [
        user(f"Review this C++ for exception safety and ownership.\n{CPP}"),
    ],
    "writing": [
        user("Write the announcement blog post for v4.19: quotas per tenant, the rollback "
             "story, and what's next. Around 1,200 words."),
    ],
    "architecture": [
        user("How should we design per-tenant failure isolation for the job runner: "
             "separate pools, quotas, or bulkheads?"),
    ],
    "final_review": [
        user("Proofread the release notes before we publish them tonight."),
    ],
}
