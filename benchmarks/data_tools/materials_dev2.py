"""Pasted material for the second development set (prompts_dev2.py), written for it alone.

Much of it is full of other tasks' words on purpose — source files whose comments say "fix the
deadlock", a design document about architecture, a review thread, a log with DEBUG lines — as
the material of the grunt work users run on a schedule: what to do with it is in the
instruction, never in the material.
"""

from __future__ import annotations

RUST_QUEUE = """```rust
use std::sync::{Arc, Mutex};

// TODO(mara): replace the Mutex with a lock-free ring buffer once the bench is in
pub struct JobQueue {
    inner: Arc<Mutex<Vec<Job>>>,
}

impl JobQueue {
    pub fn push(&self, job: Job) {
        // FIXME: this can deadlock when a worker panics while holding the lock
        let mut jobs = self.inner.lock().unwrap();
        jobs.push(job);
    }

    pub fn pop(&self) -> Option<Job> {
        // TODO: fair scheduling between tenants (see the architecture review)
        self.inner.lock().unwrap().pop()
    }
}

// HACK: debug-only counter, remove before 1.0
static mut POPS: u64 = 0;
```"""

GO_HANDLER = """```go
package billing

// Handler serves /invoices. TODO: paginate, the list grows without bound.
func (s *Server) Invoices(w http.ResponseWriter, r *http.Request) {
    rows, err := s.db.Query("SELECT id, total FROM invoices WHERE tenant = ?", tenant(r))
    if err != nil {
        log.Printf("debug: query failed: %v", err) // FIXME: return a 500, not a 200
        return
    }
    defer rows.Close()
    // TODO(jon): review the retry policy with the platform team
    writeJSON(w, collect(rows))
}
```"""

PY_MODULE = """```python
import os
import requests

API_KEY = "sk-live-51Hx9aQ2vLr0cT7mZp"  # temporary, for the demo


def fetch_orders(since):
    # TODO: handle 429 with backoff
    url = f"https://shop.example/api/orders?since={since}"
    return requests.get(url, headers={"Authorization": API_KEY}).json()


def analyse(orders):
    \"\"\"Architecture note: this runs in the nightly job, never in a request.\"\"\"
    return {o["id"]: o["total"] for o in orders if o["status"] != "void"}
```"""

TS_COMPONENT = """```typescript
import { useEffect, useState } from "react";

export function Inbox({ userId }: { userId: string }) {
  const [items, setItems] = useState<Message[]>([]);
  useEffect(() => {
    fetch(`/api/inbox/${userId}`).then((r) => r.json()).then(setItems);
  }, [userId]);
  // TODO: virtualise the list, it janks past 500 items
  console.log("debug inbox", items.length);
  return <ul>{items.map((m) => <Row key={m.id} message={m} />)}</ul>;
}
```"""

NGINX_LOG = (
    '203.0.113.9 - - [12/May/2026:03:14:07 +0000] "GET /api/health HTTP/1.1" 200 17'
    ' "-" "kube-probe/1.29"\n'
    '198.51.100.23 - - [12/May/2026:03:14:09 +0000] "POST /api/checkout HTTP/1.1"'
    ' 502 166 "-" "Mozilla/5.0"\n'
    '198.51.100.23 - - [12/May/2026:03:14:11 +0000] "POST /api/checkout HTTP/1.1"'
    ' 502 166 "-" "Mozilla/5.0"\n'
    '192.0.2.44 - - [12/May/2026:03:14:15 +0000] "GET /static/app.js HTTP/1.1" 304 0'
    ' "-" "Mozilla/5.0"\n'
    '192.0.2.44 - - [12/May/2026:03:14:20 +0000] "GET /admin/debug HTTP/1.1" 404 153'
    ' "-" "sqlmap/1.7"\n'
    '203.0.113.9 - - [12/May/2026:03:14:37 +0000] "GET /api/health HTTP/1.1" 200 17'
    ' "-" "kube-probe/1.29"\n')

JOURNAL = """May 12 04:00:01 nas systemd[1]: Starting Nightly index rebuild...
May 12 04:00:03 nas tierd[2211]: DEBUG lease granted all-minilm on host nas
May 12 04:02:44 nas kernel: ata3.00: failed command: READ FPDMA QUEUED
May 12 04:02:44 nas kernel: ata3.00: status: { DRDY ERR }
May 12 04:05:10 nas tierd[2211]: index: 41 repos rebuilt, 2 failed (design-docs, infra)
May 12 04:05:11 nas kernel: Out of memory: Killed process 3120 (ollama) total-vm:19834212kB
May 12 04:06:00 nas systemd[1]: Finished Nightly index rebuild."""

CRON_RESULTS = """job               last run   status   duration
backup-photos     02:00      ok       31m
index-rebuild     04:00      failed   6m  (exit 137)
mail-extract      every 15m  ok       96/96
feed-digest       06:30      ok       2m
cert-renew        weekly     skipped  -"""

K8S_PODS = """NAME                          READY   STATUS             RESTARTS   AGE
api-7d9f8b6c4-2xk9p           1/1     Running            0          3d
api-7d9f8b6c4-h4l2m           0/1     CrashLoopBackOff   14         52m
worker-5c6b7d8f9-q8w7e        1/1     Running            2          3d
scheduler-0                   1/1     Running            0          9d
redis-0                       0/1     Pending            0          11m"""

PYTEST_RUN = (
    "============================= test session starts"
    " ==============================\n"
    "collected 214 items\n"
    "\n"
    "tests/test_budget.py ........F...                                          [ "
    " 5%]\n"
    "tests/test_router.py ...................................................   ["
    " 29%]\n"
    "tests/test_cache.py ....E.....                                             ["
    " 34%]\n"
    "...\n"
    "FAILED tests/test_budget.py::test_cap_holds_under_concurrency - AssertionError:"
    " spent 10.02 > cap 10.00\n"
    "ERROR tests/test_cache.py::test_eviction_order - fixture 'clock' not found\n"
    "=================== 1 failed, 211 passed, 1 error, 1 skipped in 48.31s"
    " ===================")

JAVA_TRACE = """Exception in thread "main" java.lang.IllegalStateException: pool closed
    at com.example.pool.ConnectionPool.borrow(ConnectionPool.java:118)
    at com.example.repo.OrderRepository.find(OrderRepository.java:42)
    at com.example.api.OrderController.get(OrderController.java:77)
    at java.base/java.lang.Thread.run(Thread.java:1583)
Caused by: java.util.concurrent.TimeoutException: waited 30000 ms
    at com.example.pool.ConnectionPool.await(ConnectionPool.java:201)"""

PR_JSON = (
    "[\n"
    '  {"number": 1412, "title": "Refactor the scheduler architecture into a run'
    ' loop", "user": "mara", "labels": ["refactor"], "draft": false},\n'
    '  {"number": 1413, "title": "Fix deadlock when a worker panics holding the'
    ' queue lock", "user": "jon", "labels": ["bug"], "draft": false},\n'
    '  {"number": 1414, "title": "docs: write the design review for per-key'
    ' budgets", "user": "ana", "labels": ["docs"], "draft": true},\n'
    '  {"number": 1415, "title": "Add pytest cases for the cache eviction order",'
    ' "user": "li", "labels": ["tests"], "draft": false}\n'
    "]")

DIFF = """```diff
--- a/src/billing/invoice.py
+++ b/src/billing/invoice.py
@@ -40,9 +40,12 @@ def total(lines):
-    return sum(line.amount for line in lines)
+    subtotal = sum(line.amount for line in lines)
+    tax = round(subtotal * TAX_RATE, 2)
+    return subtotal + tax
--- a/migrations/0042_invoice_tax.sql
+++ b/migrations/0042_invoice_tax.sql
@@ -0,0 +1,2 @@
+ALTER TABLE invoices ADD COLUMN tax NUMERIC(10, 2) NOT NULL DEFAULT 0;
```"""

ORDERS_CSV = """order_id,customer,email,total,currency,placed_at
A-1001,Ana Sousa,ana@example.pt,42.50,EUR,2026-05-01T09:12:00Z
A-1002,Ben Ode,ben.ode@example,19.99,GBP,2026-05-01T10:40:00Z
A-1003,Chen Li,,310.00,USD,2026-05-02
A-1002,Ben Ode,ben.ode@example,19.99,GBP,2026-05-01T10:40:00Z
A-1004,Dara Kim,dara@example.kr,-5.00,KRW,2026-05-03T23:59:59Z"""

ATOM_FEED = """<entry><title>A code review checklist that actually works</title><link href="https://eng.example/review"/><updated>2026-05-11</updated></entry>
<entry><title>Debugging a deadlock in the Linux page cache</title><link href="https://lwn.example/deadlock"/><updated>2026-05-11</updated></entry>
<entry><title>Ollama 0.40 adds parallel embeddings</title><link href="https://ollama.example/040"/><updated>2026-05-10</updated></entry>
<entry><title>The architecture of SQLite's query planner</title><link href="https://sqlite.example/planner"/><updated>2026-05-09</updated></entry>"""

JSON_FEED = """{"items": [
  {"id": "hn-1", "title": "Show HN: a local-first LLM router", "points": 412, "url": "https://hn.example/1"},
  {"id": "hn-2", "title": "Why our microservice architecture failed", "points": 388, "url": "https://hn.example/2"},
  {"id": "hn-3", "title": "Proxmox 9 released", "points": 120, "url": "https://hn.example/3"}
]}"""

DESIGN_DOC = """# Design review: per-tenant quotas for the job scheduler

## Context
The scheduler architecture today is one run loop per host. Tenants share it, and one
tenant's nightly batch starved two others for 40 minutes last week.

## Decision
We will keep one run loop per host and add a token bucket per tenant, checked before a job
is leased. Mara owns the bucket implementation; Jon owns the migration of the job table.

## Alternatives considered
A separate scheduler per tenant (rejected: triples memory), a central quota service
(rejected: a new single point of failure).

## Open questions
- Do bursts carry over between days?
- Who can raise a tenant's quota, and is it audited?

## Rollout
Behind the flag `tenant_quotas`, staging on 2 June, production on 16 June."""

POSTMORTEM = """Incident 2026-05-09: checkout returned 502 for 23 minutes

Timeline (UTC)
09:02 deploy of api 4.18.0 starts
09:04 error rate on /api/checkout rises to 38 %
09:11 on-call paged; rollback attempted, blocked by a failed migration lock
09:25 lock released by hand, rollback completes, errors back to baseline

Root cause: the new connection pool's default size (5) was below the old one (50); under
the morning peak requests queued past the load balancer's 10 s timeout.

Action items: raise and document the pool default (Jon, 16 May); alert on pool wait time
(Mara, 23 May); make rollbacks skip migration locks (Ana, 30 May)."""

REVIEW_THREAD = (
    "mara: I'd reject this PR as is — the retry loop has no jitter and will hammer"
    " the API.\n"
    "jon: fair, but jitter is out of scope; can we merge and follow up?\n"
    "li: +1 to mara. Also the tests don't cover the 429 path at all.\n"
    "jon: ok, I'll add jitter and a test for 429 today, re-request review tomorrow.\n"
    "ana: approving the docs part now, the code part after jon's update.")

MEETING = """Attendees: Ana, Ben, Chen, Dara
Ana: the architecture review for the new ingest path is on Thursday, Ben presents.
Ben: I need the load numbers from Chen before then.
Chen: I can have them by Wednesday noon.
Dara: legal wants the data-retention section rewritten; I'll draft it by Friday.
Ana: we also agreed to drop the Kafka option entirely."""

TICKETS = """#5511 "App crashes when I open a PDF over 100 MB"
#5512 "How do I export my invoices?"
#5513 "You charged me twice in April"
#5514 "Dark mode please!!"
#5515 "Login link expired before I could click it\""""

INVOICE_MAIL = """From: billing@hostly.example
Subject: Invoice INV-2026-0481 for April

Dear customer, please find your invoice INV-2026-0481 for the period 1-30 April 2026.
Amount due: USD 1,284.60 (VAT included), payable by 15 May 2026 to IBAN
PT50 0002 0123 1234 5678 9015 4. Questions? Reply to this mail or call +351 21 000 0000."""

AUDIT = """Name          Version  ID                   Fix Versions
jinja2        3.1.2    GHSA-h5c8-rqwp-cp95  3.1.3
urllib3       1.26.15  CVE-2023-45803       1.26.18,2.0.7
cryptography  41.0.1   CVE-2023-49083       41.0.6
requests      2.31.0   CVE-2024-35195       2.32.0"""

TF_PLAN = """  # aws_db_instance.main must be replaced
-/+ resource "aws_db_instance" "main" {
      ~ engine_version = "15.4" -> "16.2" # forces replacement
    }
  # aws_s3_bucket.logs will be destroyed
  - resource "aws_s3_bucket" "logs" {
    }
  # aws_iam_role.ci will be updated in-place
  ~ resource "aws_iam_role" "ci" {
    }
Plan: 1 to add, 1 to change, 2 to destroy."""

SENTRY_EVENT = """{"event_id": "9f2c1e", "level": "error", "platform": "python",
 "exception": {"values": [{"type": "KeyError", "value": "'tenant'",
   "stacktrace": {"frames": [{"filename": "app/jobs.py", "lineno": 88, "function": "lease"},
                             {"filename": "app/quota.py", "lineno": 31, "function": "check"}]}}]},
 "tags": {"release": "4.18.0", "environment": "production"}, "timestamp": "2026-05-12T04:03:11Z"}"""

CHANGELOG = """## 4.18.0 - 2026-05-09
- Connection pool is now configurable (`pool.size`, default 5)
- Fix: the retry loop no longer drops the last page
## 4.17.2 - 2026-04-28
- Security: bump jinja2 to 3.1.3
## 4.17.1 - 2026-04-20
- Fix deadlock in the queue when a worker panics"""

SLACK = """[09:14] priya: anyone else seeing the staging DB at 95% disk?
[09:15] tom: yes, the debug logging from yesterday's deploy is still on
[09:16] priya: can you turn it off? I'll clean up the old partitions after lunch
[09:20] tom: done, disabled it in config/staging.yaml
[09:41] priya: partitions dropped, disk at 61% now"""

ESSAY = """Remote work did not kill the office; it killed the commute and the pretence that
presence is productivity. Teams that measured output before 2020 adapted in weeks. Teams that
measured hours are still arguing about badges. The debate we should be having is not where
people sit but how decisions get written down, because a decision nobody wrote down is a
decision only the people in the room can keep."""

REPO_FILES = """==> services/api/main.py <==
from fastapi import FastAPI
from services.shared.auth import require_user
==> services/api/routes/orders.py <==
from services.shared.db import session
def list_orders(user): ...
==> services/worker/tasks.py <==
from services.shared.db import session
def nightly_rollup(): ...
==> services/shared/auth.py <==
import jwt
def require_user(token): ...
==> services/shared/db.py <==
from sqlalchemy import create_engine"""

TREE = """.
├── cmd/tierctl/main.go
├── internal/lease/lease.go
├── internal/lease/lease_test.go
├── internal/queue/queue.go
├── internal/store/sqlite.go
├── web/src/App.tsx
└── deploy/helm/values.yaml"""

PY_PARSE = """```python
def parse_duration(text: str) -> int:
    \"\"\"'1h30m' -> 5400 seconds.\"\"\"
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
    return total
```"""

GO_RACE = """```go
type Counter struct{ n map[string]int }

func (c *Counter) Inc(key string) {
    go func() { c.n[key]++ }()
}
```"""

LANGCHAIN_REACT = (
    "Answer the following questions as best you can. You have access to the following tools:"
    "\n\nread_file(path: str) - read a file from the workspace\nsearch(query: str) - search "
    "the web\n\nUse the following format:\n\nQuestion: the input question you must answer\n"
    "Thought: you should always think about what to do\nAction: the action to take, should be "
    "one of [read_file, search]\nAction Input: the input to the action\nObservation: the "
    "result of the action\n... (this Thought/Action/Action Input/Observation can repeat N "
    "times)\nThought: I now know the final answer\nFinal Answer: the final answer to the "
    "original input question\n\nBegin!")

CREWAI_ANALYST = (
    "You are Senior Log Analyst. You have 10 years of experience as a site reliability "
    "engineer debugging distributed systems and reviewing incident architecture.\nYour "
    "personal goal is: Keep the on-call dashboard accurate\nTo give my best complete final "
    "answer to the task respond using the exact following format:\n\nThought: I now can give "
    "a great answer\nFinal Answer: Your final answer must be the great and the most complete "
    "as possible, it must be outcome described.\n\nI MUST use these formats, my job depends "
    "on it!")

CREWAI_WRITER = (
    "You are Lead Technical Writer. You write documentation engineers love to read.\nYour "
    "personal goal is: Publish the launch blog post\nTo give my best complete final answer to "
    "the task respond using the exact following format:\n\nThought: I now can give a great "
    "answer\nFinal Answer: Your final answer must be the great and the most complete as "
    "possible, it must be outcome described.")

AUTOGEN_ASSISTANT = (
    "You are a helpful AI assistant. Solve tasks using your coding and language skills. In "
    "the following cases, suggest python code (in a python coding block) or shell script (in "
    "a sh coding block) for the user to execute. When the task is done, reply TERMINATE.")

LLAMAINDEX_SYSTEM = (
    "You are an expert Q&A system that is trusted around the world. Always answer the query "
    "using the provided context information, and not prior knowledge.")

CODING_AGENT = (
    "You are an autonomous coding agent working in a git repository. You can run shell "
    "commands, read and write files, and run the tests. Keep changes minimal.")

SUPPORT_BOT = (
    "You are Pia, the support assistant of Hostly, a web-hosting company. Be friendly and "
    "concise. Never promise refunds.")
