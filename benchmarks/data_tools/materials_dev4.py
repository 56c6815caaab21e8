"""Pasted material for the fourth development set (prompts_dev4.py), written for it: the logs,
feeds, exports, source files, diffs and documents that cron jobs and agents hand a model.
Much of it uses the words of strong-tier work ("architecture", "review", "debug", "analyse",
"prove", "design", stack traces, code fences) as its own content, the way real material does,
while what is asked of it is grunt work.
"""

from __future__ import annotations

NGINX_LOG = """203.0.113.7 - - [02/Jun/2026:03:12:01 +0000] "GET /api/v2/reviews?page=3 HTTP/1.1" 200 5123 "-" "okhttp/4.12"
203.0.113.7 - - [02/Jun/2026:03:12:02 +0000] "GET /api/v2/reviews?page=4 HTTP/1.1" 200 4988 "-" "okhttp/4.12"
198.51.100.23 - - [02/Jun/2026:03:12:05 +0000] "POST /api/v2/architecture/diagrams HTTP/1.1" 502 166 "-" "Mozilla/5.0"
198.51.100.23 - - [02/Jun/2026:03:12:06 +0000] "POST /api/v2/architecture/diagrams HTTP/1.1" 502 166 "-" "Mozilla/5.0"
192.0.2.44 - - [02/Jun/2026:03:12:09 +0000] "GET /debug/pprof/heap HTTP/1.1" 403 153 "-" "curl/8.5.0"
203.0.113.9 - - [02/Jun/2026:03:12:11 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.30"
198.51.100.23 - - [02/Jun/2026:03:12:14 +0000] "POST /api/v2/architecture/diagrams HTTP/1.1" 504 160 "-" "Mozilla/5.0"
203.0.113.7 - - [02/Jun/2026:03:12:15 +0000] "GET /api/v2/reviews?page=5 HTTP/1.1" 200 5002 "-" "okhttp/4.12"
192.0.2.80 - - [02/Jun/2026:03:12:18 +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "python-requests/2.31"
192.0.2.80 - - [02/Jun/2026:03:12:18 +0000] "GET /.env HTTP/1.1" 404 153 "-" "python-requests/2.31"
203.0.113.9 - - [02/Jun/2026:03:12:21 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.30"
198.51.100.61 - - [02/Jun/2026:03:12:25 +0000] "PUT /api/v2/reviews/8812 HTTP/1.1" 500 312 "-" "Mozilla/5.0\""""

TRACEBACK_LOG = """2026-06-02 04:00:01,113 INFO  worker.sync  starting nightly sync (tenant=acme)
2026-06-02 04:00:03,870 INFO  worker.sync  fetched 1 204 review records
2026-06-02 04:00:04,002 WARN  worker.sync  slow query (1.9 s): SELECT * FROM reviews WHERE tenant_id = $1
2026-06-02 04:00:07,551 ERROR worker.sync  sync failed for tenant=globex
Traceback (most recent call last):
  File "/srv/app/worker/sync.py", line 88, in run_tenant
    records = fetch_reviews(client, tenant)
  File "/srv/app/worker/sync.py", line 41, in fetch_reviews
    return [normalise(r) for r in page["items"]]
  File "/srv/app/worker/sync.py", line 41, in <listcomp>
    return [normalise(r) for r in page["items"]]
  File "/srv/app/worker/normalise.py", line 17, in normalise
    score = float(record["rating"])
KeyError: 'rating'
2026-06-02 04:00:07,560 INFO  worker.sync  continuing with next tenant
2026-06-02 04:00:09,204 INFO  worker.sync  fetched 95 review records (tenant=initech)
2026-06-02 04:00:09,990 INFO  worker.sync  finished: 2 ok, 1 failed, 3.2 s wall"""

JOURNAL = """Jun 02 02:00:00 nas systemd[1]: Starting restic-backup.service - Nightly restic backup...
Jun 02 02:00:01 nas restic[8812]: using parent snapshot 5c1e2f0a
Jun 02 02:14:37 nas restic[8812]: Files:         212 new,  1830 changed, 480112 unmodified
Jun 02 02:14:37 nas restic[8812]: Added to the repository: 2.114 GiB (1.902 GiB stored)
Jun 02 02:14:38 nas restic[8812]: snapshot 9a7be113 saved
Jun 02 02:14:38 nas systemd[1]: restic-backup.service: Deactivated successfully.
Jun 02 02:30:00 nas systemd[1]: Starting restic-prune.service - Weekly prune...
Jun 02 02:30:02 nas restic[9101]: Fatal: unable to create lock in backend: repository is already locked by PID 8812 on nas by root
Jun 02 02:30:02 nas systemd[1]: restic-prune.service: Main process exited, code=exited, status=1/FAILURE
Jun 02 02:30:02 nas systemd[1]: restic-prune.service: Failed with result 'exit-code'.
Jun 02 03:00:00 nas smartd[611]: Device: /dev/sdb [SAT], SMART Usage Attribute: 194 Temperature_Celsius changed from 61 to 63
Jun 02 03:00:00 nas smartd[611]: Device: /dev/sdb [SAT], 8 Currently unreadable (pending) sectors"""

RUST_FILE = """```rust
//! Ring buffer used by the ingest pipeline.
//!
//! Architecture note: this sits between the socket readers and the parser threads; see
//! docs/architecture.md for why we chose a bounded SPSC design over a channel. Reviewed by
//! the platform team in March (design review #41).

use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Ring<T> {
    buf: Vec<Option<T>>,
    head: AtomicUsize,
    tail: AtomicUsize,
}

impl<T> Ring<T> {
    pub fn with_capacity(cap: usize) -> Self {
        // TODO(marta): round cap up to a power of two so we can mask instead of modulo
        let mut buf = Vec::with_capacity(cap);
        buf.resize_with(cap, || None);
        Ring { buf, head: AtomicUsize::new(0), tail: AtomicUsize::new(0) }
    }

    pub fn push(&mut self, item: T) -> Result<(), T> {
        let tail = self.tail.load(Ordering::Relaxed);
        let next = (tail + 1) % self.buf.len();
        if next == self.head.load(Ordering::Acquire) {
            return Err(item); // FIXME: callers drop the item silently, count it instead
        }
        self.buf[tail] = Some(item);
        self.tail.store(next, Ordering::Release);
        Ok(())
    }

    pub fn pop(&mut self) -> Option<T> {
        let head = self.head.load(Ordering::Relaxed);
        if head == self.tail.load(Ordering::Acquire) {
            return None;
        }
        let item = self.buf[head].take();
        self.head.store((head + 1) % self.buf.len(), Ordering::Release);
        item
    }

    // TODO: expose len() for the debug endpoint; needs a review of the memory ordering
    // HACK(jo): is_full() is duplicated in parser.rs until the refactor lands
}
```"""

PY_MODULE = """```python
\"\"\"Billing export: nightly CSV of usage per tenant.

Design: the export reads from the read replica (see the architecture review of 2025-11) and
never from the primary. Debug with EXPORT_DEBUG=1.
\"\"\"
import csv
import datetime as dt

from billing.db import replica
from billing.prices import price_of  # TODO(ana): cache prices per run, this hits the DB per row


def export(day: dt.date, path: str) -> int:
    rows = replica.query("SELECT tenant, sku, qty FROM usage WHERE day = %s", day)
    written = 0
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["tenant", "sku", "qty", "amount"])
        for tenant, sku, qty in rows:
            # FIXME: qty can be None for trial tenants; we write 'None' into the CSV
            writer.writerow([tenant, sku, qty, qty * price_of(sku)])
            written += 1
    return written


def analyse_outliers(path: str) -> list[str]:
    # TODO: prove this threshold is sane before finance relies on it (ticket FIN-212)
    with open(path) as f:
        return [r["tenant"] for r in csv.DictReader(f) if float(r["amount"]) > 10_000]
```"""

GIT_DIFF = """diff --git a/src/ingest/ring.rs b/src/ingest/ring.rs
index 3f1c2aa..8b0d7e1 100644
--- a/src/ingest/ring.rs
+++ b/src/ingest/ring.rs
@@ -14,7 +14,9 @@ impl<T> Ring<T> {
     pub fn with_capacity(cap: usize) -> Self {
-        // TODO(marta): round cap up to a power of two so we can mask instead of modulo
-        let mut buf = Vec::with_capacity(cap);
+        let cap = cap.next_power_of_two();
+        let mut buf = Vec::with_capacity(cap);
         buf.resize_with(cap, || None);
diff --git a/docs/architecture.md b/docs/architecture.md
index 11aa0c2..77e1f90 100644
--- a/docs/architecture.md
+++ b/docs/architecture.md
@@ -3,3 +3,4 @@
 The ingest ring is a bounded SPSC buffer.
+Capacity is rounded up to a power of two (review #57).
diff --git a/CHANGELOG.md b/CHANGELOG.md
@@ -1,3 +1,5 @@
 ## Unreleased
+- ingest: ring capacity is a power of two
+- debug: /debug/ring shows the fill level"""

RSS_FEED = """<rss version="2.0"><channel><title>Platform Weekly</title>
<item><title>Postmortem: the 31 May queue outage</title><link>https://blog.example/pm-0531</link><pubDate>Mon, 01 Jun 2026 09:00:00 GMT</pubDate><category>incidents</category></item>
<item><title>Designing a multi-region architecture on a budget</title><link>https://blog.example/multi-region</link><pubDate>Sun, 31 May 2026 15:30:00 GMT</pubDate><category>architecture</category></item>
<item><title>How we debug flaky tests with bisect</title><link>https://blog.example/flaky-bisect</link><pubDate>Sat, 30 May 2026 11:00:00 GMT</pubDate><category>testing</category></item>
<item><title>Release 4.19: per-tenant quotas</title><link>https://blog.example/r419</link><pubDate>Fri, 29 May 2026 17:45:00 GMT</pubDate><category>releases</category></item>
<item><title>Review: three years of running Kafka or Postgres queues</title><link>https://blog.example/kafka-pg</link><pubDate>Thu, 28 May 2026 08:10:00 GMT</pubDate><category>architecture</category></item>
<item><title>Hiring: staff engineer, storage</title><link>https://blog.example/jobs-storage</link><pubDate>Wed, 27 May 2026 10:00:00 GMT</pubDate><category>jobs</category></item>
</channel></rss>"""

ISSUES_JSON = """[
  {"number": 4471, "title": "Deadlock in scheduler when two jobs share a lease", "labels": ["bug", "scheduler"], "state": "open", "assignee": null, "comments": 12},
  {"number": 4472, "title": "Architecture: split the gateway into its own service?", "labels": ["discussion"], "state": "open", "assignee": "kwame", "comments": 31},
  {"number": 4475, "title": "Typo in README install section", "labels": ["docs", "good first issue"], "state": "open", "assignee": null, "comments": 0},
  {"number": 4478, "title": "Review the retry policy for webhooks", "labels": ["reliability"], "state": "closed", "assignee": "lin", "comments": 4},
  {"number": 4480, "title": "Panic: index out of range in parser.go:212", "labels": ["bug", "crash"], "state": "open", "assignee": "lin", "comments": 2},
  {"number": 4483, "title": "Feature: export costs as CSV", "labels": ["enhancement"], "state": "open", "assignee": null, "comments": 7}
]"""

SALES_CSV = """order_id,date,region,product,units,unit_price,status
A-1001,2026-05-25,EMEA,Design Review Seat,3,49.00,paid
A-1002,2026-05-25,NA,Architecture Pack,1,1200.00,paid
A-1003,2026-05-26,APAC,Design Review Seat,10,49.00,refunded
A-1004,2026-05-26,EMEA,Debug Pro,2,99.00,paid
A-1005,2026-05-27,NA,Debug Pro,1,99.00,chargeback
A-1006,2026-05-28,EMEA,Architecture Pack,2,1200.00,paid
A-1007,2026-05-29,APAC,Debug Pro,5,99.00,paid
A-1008,2026-05-30,NA,Design Review Seat,1,49.00,pending"""

CRON_RESULTS = """== cron summary host=build-02 window=2026-06-02 00:00..06:00 ==
00:00 backup-db            OK     312s  dump 4.1 GiB
00:30 rotate-logs          OK       2s
01:00 renew-certs          OK       9s  3 certs, next expiry 2026-08-11
02:00 reindex-search       FAIL   601s  timeout after 600s (architecture-docs source)
03:00 sync-mirrors         OK     188s
04:00 run-nightly-tests    FAIL  1422s  7 failed / 2318 passed (test_scheduler_deadlock flaky)
05:00 prune-artifacts      OK      41s  freed 12.3 GiB
05:30 review-bot-digest    OK       4s  sent to #eng-reviews"""

DESIGN_DOC = """# RFC 118: Moving the job queue off Postgres

Status: accepted. Authors: kwame, lin. Reviewers: platform, data.

## Context
Our architecture today runs the job queue as a table in the primary Postgres. At 2k jobs per
second the SKIP LOCKED polling costs 30 % of the primary's CPU, and vacuum falls behind.

## Options
1. Keep Postgres, partition the jobs table by day. Cheapest; buys about a year.
2. Kafka. Strong ordering per partition, but we would operate a new system and the team has
   no on-call experience with it.
3. Redis Streams. Simple, but durability depends on AOF settings we would have to prove safe.

## Decision
Option 1 now, revisit option 2 in Q1 2027. We analysed the trade-offs in the design review of
12 May; the main risk is a migration that locks the table (mitigation: pg_partman, online).

## Action items
- lin: prototype pg_partman on the staging replica by 9 June
- kwame: write the rollback runbook by 12 June
- data team: confirm the analytics exports tolerate partitioned tables (owner: priya)
- everyone: review the load-test plan before 16 June

## Open questions
- Do we need exactly-once semantics for billing jobs, or is at-least-once with idempotency keys
  enough? (priya to debug the duplicate-invoice report from April first)"""

MEETING_NOTES = """Weekly platform sync — 1 June
Present: kwame, lin, priya, jo, marta
- Gateway: kwame still thinks we should design the gateway as a separate service; lin disagrees,
  wants to keep the monolith until the team doubles. No decision; revisit after the load test.
- Incident 31 May: queue outage, 47 min. Root cause: vacuum + SKIP LOCKED. Postmortem draft
  is up; jo to review it by Wednesday.
- Flaky test test_scheduler_deadlock: marta will debug it this week, suspects a lease race.
- Hiring: two staff candidates in the loop; priya runs the system design interview on Friday.
- Costs: cloud spend up 18 % month over month, mostly the frontier model in the review bot.
  lin to check whether the bot can run on the cheap tier.
- AOB: offsite 24-26 June, jo books the venue."""

SUPPORT_TICKETS = """#88121 "App crashes when I upload a photo over 20 MB" (plan: pro)
#88122 "Please cancel my subscription and refund this month" (plan: basic)
#88123 "Your architecture docs say SSO works with Okta, it doesn't" (plan: enterprise)
#88124 "How do I export my data to CSV?" (plan: free)
#88125 "URGENT: all our users are locked out since 09:00" (plan: enterprise)
#88126 "Invoice shows VAT twice" (plan: pro)
#88127 "Feature idea: dark mode for the review screen" (plan: free)"""

PYTEST_OUT = """============================= test session starts ==============================
platform linux -- Python 3.12.3, pytest-8.2.0
collected 214 items

tests/test_scheduler.py ........F..                                      [  5%]
tests/test_ledger.py ..................................                   [ 21%]
tests/test_review_bot.py ....F.                                          [ 24%]
tests/test_export.py .............................................        [ 45%]
...
=================================== FAILURES ===================================
_________________________ test_lease_is_released ______________________________
    def test_lease_is_released():
        job = scheduler.lease("nightly")
>       assert scheduler.release(job) is True
E       AssertionError: assert False is True
tests/test_scheduler.py:88: AssertionError
_________________________ test_digest_mentions_reviewers ______________________
E       KeyError: 'reviewers'
tests/test_review_bot.py:41: KeyError
=========================== short test summary info ============================
FAILED tests/test_scheduler.py::test_lease_is_released - AssertionError
FAILED tests/test_review_bot.py::test_digest_mentions_reviewers - KeyError: 'reviewers'
======================== 2 failed, 212 passed in 41.3s ========================="""

GO_PANIC = """goroutine 1 [running]:
panic: runtime error: index out of range [3] with length 3

goroutine 57 [running]:
github.com/acme/ingest/parser.(*Parser).field(0xc0001a2000, 0x3)
        /src/parser/parser.go:212 +0x1d4
github.com/acme/ingest/parser.(*Parser).Record(0xc0001a2000)
        /src/parser/parser.go:148 +0x9a
github.com/acme/ingest/pipeline.(*Stage).run(0xc00011e0c0, {0x8d2f40, 0xc000120000})
        /src/pipeline/stage.go:77 +0x2f1
created by github.com/acme/ingest/pipeline.Start in goroutine 1
        /src/pipeline/stage.go:41 +0x1a5
exit status 2"""

KUBECTL_PODS = """NAME                              READY   STATUS             RESTARTS        AGE
api-7c9f6d5b8-2kqzj               1/1     Running            0               3d
api-7c9f6d5b8-8xw4p               1/1     Running            0               3d
review-bot-5d8c7f9c4-tq7mn        0/1     CrashLoopBackOff   41 (2m ago)     3h
scheduler-6b7d8c9f5-lp2xk         1/1     Running            2 (11h ago)     3d
architecture-docs-84f5b-zz9qp     1/1     Running            0               12d
debug-shell-7f6d                  0/1     Completed          0               5h
ingest-worker-0                   1/1     Running            0               3d
ingest-worker-1                   0/1     Pending            0               47m"""

TERRAFORM_PLAN = """Terraform will perform the following actions:

  # aws_db_instance.primary will be updated in-place
  ~ resource "aws_db_instance" "primary" {
      ~ instance_class = "db.r6g.xlarge" -> "db.r6g.2xlarge"
        id             = "primary"
    }

  # aws_s3_bucket.architecture_diagrams will be destroyed
  - resource "aws_s3_bucket" "architecture_diagrams" {
      - bucket = "acme-architecture-diagrams"
    }

  # aws_security_group_rule.debug_ssh will be created
  + resource "aws_security_group_rule" "debug_ssh" {
      + cidr_blocks = ["0.0.0.0/0"]
      + from_port   = 22
      + to_port     = 22
    }

Plan: 1 to add, 1 to change, 1 to destroy."""

SLACK_EXPORT = """[09:02] kwame: morning! reminder that the architecture review for the gateway is at 14:00
[09:05] lin: can someone review my PR #912 before lunch? it's the retry fix
[09:07] priya: @lin on it after standup
[09:31] jo: prod is throwing 502s on /architecture/diagrams again
[09:33] marta: looking. seems the renderer pod OOMs, bumping memory to 1Gi
[09:48] marta: fixed, 502s gone. will write it up
[10:15] kwame: who owns the billing export? finance says the CSV has 'None' in it
[10:16] priya: that's me, I'll debug it today
[11:40] lin: PR #912 merged, thanks priya"""

PAPERS = """1. arXiv:2605.01123 — "A Short Proof of the Sensitivity Conjecture for Hypergraphs" (math.CO)
   We prove that the sensitivity of any Boolean function on a k-uniform hypergraph is at least...
2. arXiv:2605.01240 — "Scaling Laws for Retrieval-Augmented Code Review" (cs.SE)
   We analyse 1.2M pull requests and find that review quality saturates at...
3. arXiv:2605.01377 — "Lock-free Ring Buffers Revisited" (cs.DC)
   We debug three published SPSC designs and show two are incorrect under weak memory models...
4. arXiv:2605.01502 — "On the Architecture of Mixture-of-Experts Routers" (cs.LG)
   We design a router that balances load without an auxiliary loss and prove convergence...
5. arXiv:2605.01688 — "Tax Compliance Nudges: A Field Experiment" (econ.GN)
   We run a randomised trial with 40k taxpayers..."""

EMAIL_THREAD = """From: Dana Ortiz <dana@client.example>
To: support@acme.example
Subject: Re: Re: architecture review deliverable
Date: Mon, 1 Jun 2026 16:20:11 +0000

Hi team,

Following up again. We paid for the architecture review in April (PO 77120, EUR 18,500) and
the deliverable was due 15 May. Can you confirm a date? Our board meets on 12 June and I need
the report by 10 June at the latest. If that is not possible I need to escalate to Marco.

Also, the invoice INV-2026-0412 lists the debug workshop twice.

Thanks,
Dana Ortiz
Head of Engineering, Client Corp
+34 600 123 456

> On 22 May, Sam from Acme wrote:
> We are finalising the review and will send it next week."""

SQL_SCHEMA = """CREATE TABLE reviews (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id),
    author      TEXT NOT NULL,
    rating      SMALLINT CHECK (rating BETWEEN 1 AND 5),
    body        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reviews_tenant_created ON reviews (tenant_id, created_at DESC);
CREATE TABLE tenants (
    id      BIGSERIAL PRIMARY KEY,
    name    TEXT UNIQUE NOT NULL,
    plan    TEXT NOT NULL DEFAULT 'free'
);"""

PACKAGE_JSON = """{
  "name": "review-dashboard",
  "version": "2.3.1",
  "scripts": {"dev": "vite", "build": "vite build", "test": "vitest run", "debug": "node --inspect server.js"},
  "dependencies": {
    "react": "^18.3.1",
    "react-dom": "^18.3.1",
    "axios": "0.21.1",
    "lodash": "4.17.15",
    "zod": "^3.23.8"
  },
  "devDependencies": {"vite": "^5.2.0", "vitest": "^1.6.0", "typescript": "^5.4.5"}
}"""

CHANGELOG = """## 4.19.0 — 2026-05-29
### Added
- Per-tenant quotas (`quota.jobs_per_minute`), enforced by the scheduler.
- `tierctl debug lease` shows who holds a job lease.
### Changed
- The review bot posts one digest per day instead of one message per PR.
- Architecture docs moved to docs/architecture/.
### Fixed
- Deadlock when two jobs shared a lease (#4471).
- CSV export wrote 'None' for trial tenants.
### Removed
- The deprecated /v1/reviews endpoint (use /v2/reviews)."""

DMESG = """[    0.000000] Linux version 6.8.0-35-generic (buildd@lcy02-amd64-020)
[    0.412331] x86/fpu: Supporting XSAVE feature 0x002: 'SSE registers'
[    1.208812] nvme nvme0: 16/0/0 default/read/poll queues
[ 8812.114201] EXT4-fs error (device sdb1): ext4_find_entry:1620: inode #2: comm ls: reading directory lblock 0
[ 8812.114350] Buffer I/O error on dev sdb1, logical block 0, lost sync page write
[ 9001.551200] usb 3-2: new high-speed USB device number 5 using xhci_hcd
[12204.881002] Out of memory: Killed process 41233 (review-renderer) total-vm:2811440kB
[12205.002114] oom_reaper: reaped process 41233 (review-renderer)"""

ESSAY_NOTES = """- started the company in a garage in Porto, 2019, three of us
- first customer was a bakery chain that wanted to debug their POS exports
- nearly died in 2021: the architecture didn't scale past 40 stores, rewrote it in 6 weeks
- learned: talk to customers weekly, ship small, review everything twice
- now 60 people, 1,200 customers, profitable since 2024
- what's next: the Lisbon office, the API platform, staying boring on purpose"""

WIKI_PAGE = """Onboarding: the review pipeline

The review pipeline takes a pull request from webhook to merged in five stages: intake,
static checks, the review bot, human review, and merge. Intake validates the webhook signature
and writes a job. Static checks run linters and the test suite in a sandbox; failures are posted
as a check run. The review bot reads the diff and posts comments; it never approves. Human
review needs one approval from a code owner, two for anything under billing/. Merge is a
squash merge by the merge queue, which re-runs the tests on the rebased branch.

Architecture: every stage is a worker reading from the job table; stages never call each
other. To debug a stuck PR, look up its job in the admin UI and read the stage log. The most
common cause is a missing code owner for a new directory."""
