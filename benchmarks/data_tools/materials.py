"""Pasted material for the labelled routing prompts: logs, diffs, mail, feeds, code, notes.

Written for this data set. Several pieces are deliberately full of another task's words (a log
whose lines say "summary written", an article about architecture reviews) so that a classifier
which reads the pasted words instead of the instruction gets them wrong.
"""

from __future__ import annotations

INDEXER_LOG = """2025-03-04 04:00:02 INFO  indexer: nightly rebuild started, 43 repos queued
2025-03-04 04:00:09 INFO  indexer: repo tierd rebuilt, 412 chunks, summary written
2025-03-04 04:00:15 INFO  indexer: repo dotfiles rebuilt, 38 chunks, summary written
2025-03-04 04:00:31 WARN  indexer: repo photo-sorter skipped 3 files over 1 MiB
2025-03-04 04:01:02 ERROR indexer: repo legacy-crm failed: git fetch exited 128
2025-03-04 04:01:40 INFO  indexer: repo homelab rebuilt, 201 chunks, summary written
2025-03-04 04:02:11 ERROR embedder: request to nomic-embed-text timed out after 30s
2025-03-04 04:02:12 INFO  embedder: retry 1/3 succeeded
2025-03-04 04:03:55 INFO  indexer: nightly rebuild finished, 41 ok, 1 failed, 1 partial"""

NGINX_LOG = """10.0.0.14 - - [12/May/2025:09:14:02 +0000] "GET /api/v1/items HTTP/1.1" 200 5123
10.0.0.14 - - [12/May/2025:09:14:03 +0000] "GET /api/v1/items/88 HTTP/1.1" 404 162
10.0.0.31 - - [12/May/2025:09:14:05 +0000] "POST /api/v1/login HTTP/1.1" 401 88
10.0.0.31 - - [12/May/2025:09:14:06 +0000] "POST /api/v1/login HTTP/1.1" 401 88
10.0.0.31 - - [12/May/2025:09:14:06 +0000] "POST /api/v1/login HTTP/1.1" 401 88
10.0.0.9 - - [12/May/2025:09:14:09 +0000] "GET /healthz HTTP/1.1" 200 2
10.0.0.14 - - [12/May/2025:09:14:11 +0000] "PUT /api/v1/items/12 HTTP/1.1" 502 157
10.0.0.9 - - [12/May/2025:09:14:19 +0000] "GET /healthz HTTP/1.1" 200 2"""

JOURNAL_LOG = "\n".join((
    "May 12 03:10:01 nas CRON[21877]: (root) CMD (/usr/local/bin/backup.sh)",
    "May 12 03:10:44 nas backup.sh[21880]: rsync: [sender] send_files failed to open "
    '"/srv/photos/.lock": Permission denied (13)',
    "May 12 03:12:09 nas backup.sh[21880]: sent 8.21G bytes  received 1.02M bytes",
    "May 12 03:12:09 nas backup.sh[21880]: rsync error: some files/attrs were not "
    "transferred (code 23)",
    "May 12 03:15:00 nas smartd[811]: Device: /dev/sdb, SMART Usage Attribute: 194 "
    "Temperature_Celsius changed from 38 to 41",
    "May 12 03:20:13 nas kernel: ata2.00: failed command: READ FPDMA QUEUED",
    "May 12 03:20:13 nas kernel: ata2.00: status: { DRDY ERR }",
))

K8S_EVENTS = "\n".join((
    "LAST SEEN   TYPE      REASON             OBJECT                      MESSAGE",
    "4m          Normal    Scheduled          pod/api-7d9c5-x2k8p         "
    "Successfully assigned prod/api-7d9c5-x2k8p",
    "4m          Normal    Pulled             pod/api-7d9c5-x2k8p         Container "
    'image "registry/api:2.14.1" already present',
    "3m          Warning   BackOff            pod/worker-5f6b8-qq1lz      Back-off "
    "restarting failed container",
    "3m          Warning   Unhealthy          pod/api-7d9c5-x2k8p         Readiness "
    "probe failed: HTTP probe failed with statuscode: 503",
    "2m          Normal    Killing            pod/cron-28591-abcde        Stopping container cron",
    "1m          Warning   FailedScheduling   pod/gpu-job-0               0/3 nodes "
    "are available: 3 Insufficient nvidia.com/gpu",
))

PY_TRACEBACK = """Traceback (most recent call last):
  File "/app/worker.py", line 88, in run
    result = handler(job.payload)
  File "/app/handlers/invoice.py", line 41, in handle
    total = sum(line["amount"] for line in payload["lines"])
  File "/app/handlers/invoice.py", line 41, in <genexpr>
    total = sum(line["amount"] for line in payload["lines"])
KeyError: 'amount'"""

CRON_RESULTS = """job              last_run             status   duration
backup-photos    2025-05-12 03:10     FAILED   2m08s   (rsync code 23)
index-rebuild    2025-05-12 04:00     OK       3m53s
mail-extract     2025-05-12 06:00     OK       41s
cert-renew       2025-05-12 00:00     OK       4s
price-scrape     2025-05-12 05:30     OK       1m12s
db-vacuum        2025-05-11 23:00     SKIPPED  -       (lock held)"""

RSS_FEED = """<rss version="2.0"><channel><title>Homelab Weekly</title>
<item><title>Proxmox 8.4 released with live migration fixes</title>
<link>https://example.org/p/proxmox-84</link>
<pubDate>Mon, 12 May 2025 08:00:00 GMT</pubDate></item>
<item><title>Running Qwen 2.5 14B on a Mac Mini: a month in</title>
<link>https://example.org/p/qwen-mac-mini</link>
<pubDate>Sun, 11 May 2025 17:30:00 GMT</pubDate></item>
<item><title>ZFS scrub schedules that will not kill your disks</title>
<link>https://example.org/p/zfs-scrub</link>
<pubDate>Sat, 10 May 2025 12:00:00 GMT</pubDate></item>
<item><title>Sponsored: the best NAS of 2025</title>
<link>https://example.org/p/sponsored-nas</link>
<pubDate>Sat, 10 May 2025 09:00:00 GMT</pubDate></item>
</channel></rss>"""

JSON_FEED = """{"version": "https://jsonfeed.org/version/1.1", "title": "release-watch",
 "items": [
  {"id": "r1", "title": "llama.cpp b5123", "url": "https://example.com/r/b5123",
   "date_published": "2025-05-11T22:04:00Z", "tags": ["release", "cuda"]},
  {"id": "r2", "title": "ollama v0.7.1", "url": "https://example.com/r/ollama-071",
   "date_published": "2025-05-10T15:40:00Z", "tags": ["release"]},
  {"id": "r3", "title": "sqlite-vec 0.1.9", "url": "https://example.com/r/sqlite-vec-019",
   "date_published": "2025-05-09T08:12:00Z", "tags": ["release", "sqlite"]}
 ]}"""

HN_LIST = """1. Show HN: I replaced my cloud bill with a Mac Mini (412 points, 233 comments)
2. The case against microservices for small teams (388 points, 301 comments)
3. SQLite is faster than you think at 1M rows (290 points, 88 comments)
4. Ask HN: How do you route LLM calls by cost? (145 points, 97 comments)
5. A visual guide to KV caches (133 points, 21 comments)"""

INVOICE_EMAIL = """From: billing@northwind-hosting.example
To: accounts@ourco.example
Subject: Invoice NW-88213 for April 2025

Hello,

please find attached invoice NW-88213 dated 2025-05-02 for your April usage.
Dedicated server (2x) ........ EUR 178.00
Backup storage 2 TB ........... EUR 24.00
Total due ..................... EUR 202.00 (incl. VAT 19%)
Payment due by 2025-05-16 to IBAN DE44 5001 0517 5407 3249 31.

Kind regards,
Northwind Hosting accounts team"""

SUPPORT_EMAIL = """Subject: Can't log in after password reset

Hi, I reset my password yesterday via the link you sent, and now the app says
"account locked" every time I try. I also got charged for May even though I cancelled
in April?? Please sort this out, it's the second time. — Priya (customer #40211)"""

MEETING_NOTES = """Weekly sync 2025-05-12 (Ana, Ben, Chidi, Dora)
- index rebuild still failing for legacy-crm; Ben thinks it's the deploy key
- Ana: price scrape moved to 05:30, no complaints so far
- we agreed to drop the Friday demo, do async video instead
- Chidi will look at the NAS disk errors (sdb temperature + ata errors)
- Dora asked whether we can cap cloud spend at $20/month; nobody disagreed
- next sync moves to Tuesday because of the holiday"""

SLACK_THREAD = """ana: deploy of api 2.14.1 is out
ben: seeing 503s on readiness, is that expected?
ana: hmm no. rolling back
chidi: root cause looks like the new db pool size, 5 is too low for the worker
ben: can we make pool size configurable instead of hardcoding?
ana: yes, ticket API-412. rollback done, all green now"""

ARCHITECTURE_ARTICLE = (
    "Our architecture review concluded that the monolith should be split into three services, "
    "and the summary we wrote for the board classified every incident by severity. We had to "
    "extract lessons from each outage, format them for the wiki and scan the logs for "
    "patterns. The final review of the migration plan is scheduled for June. Writing this "
    "report took longer than the migration itself. ") * 4

CONTRACT = """12. Term and termination. This Agreement commences on the Effective Date and continues
for an initial term of twelve (12) months. Thereafter it renews automatically for successive
twelve-month terms unless either party gives written notice of non-renewal at least sixty (60)
days before the end of the then-current term.
13. Liability. Neither party's aggregate liability shall exceed the fees paid in the twelve
months preceding the claim, except for breaches of Section 9 (Confidentiality).
14. Data. Provider shall process Customer Data only on documented instructions and shall
delete it within thirty (30) days of termination."""

PY_CODE = """```python
import json
import threading

_cache = {}
_lock = threading.Lock()

def get_config(path):
    if path in _cache:
        return _cache[path]
    with _lock:
        with open(path) as f:
            _cache[path] = json.load(f)
    return _cache[path]
```"""

PY_DEADLOCK = """```python
import threading

accounts = {"a": 100, "b": 50}
locks = {name: threading.Lock() for name in accounts}

def transfer(src, dst, amount):
    with locks[src]:
        with locks[dst]:
            accounts[src] -= amount
            accounts[dst] += amount

t1 = threading.Thread(target=transfer, args=("a", "b", 10))
t2 = threading.Thread(target=transfer, args=("b", "a", 5))
t1.start(); t2.start(); t1.join(); t2.join()
```"""

PY_FAILING_TEST = """```
____________________________ test_parse_duration ____________________________

    def test_parse_duration():
>       assert parse_duration("1h30m") == 5400
E       AssertionError: assert 1830 == 5400
E        +  where 1830 = parse_duration('1h30m')

tests/test_durations.py:12: AssertionError
```
```python
def parse_duration(text):
    units = {"h": 60, "m": 60, "s": 1}
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * units[ch]
            number = ""
    return total
```"""

GO_CODE = """```go
func (s *Store) Get(key string) (string, error) {
	s.mu.RLock()
	v, ok := s.data[key]
	if !ok {
		s.mu.RUnlock()
		return "", ErrNotFound
	}
	return v, nil
}
```"""

JS_CODE = """```javascript
async function loadUsers(ids) {
  const users = [];
  ids.forEach(async (id) => {
    const res = await fetch(`/api/users/${id}`);
    users.push(await res.json());
  });
  return users;
}
```"""

TS_CODE = """```typescript
export function debounce<T extends (...args: any[]) => void>(fn: T, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (...args: Parameters<T>) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
```"""

RUST_CODE = """```rust
pub fn parse_port(s: &str) -> Result<u16, String> {
    let n: u32 = s.trim().parse().map_err(|e| format!("bad port: {e}"))?;
    if n == 0 || n > 65535 {
        return Err(format!("port out of range: {n}"));
    }
    Ok(n as u16)
}
```"""

JAVA_CODE = """```java
public class RateLimiter {
    private final int limit;
    private int count = 0;
    private long windowStart = System.currentTimeMillis();

    public RateLimiter(int limit) { this.limit = limit; }

    public boolean allow() {
        long now = System.currentTimeMillis();
        if (now - windowStart > 1000) { windowStart = now; count = 0; }
        return ++count <= limit;
    }
}
```"""

SQL_CODE = """```sql
SELECT c.name, SUM(o.total) AS revenue
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.created_at >= '2024-01-01'
GROUP BY c.name
ORDER BY revenue DESC;
```"""

BASH_CODE = """```bash
#!/bin/bash
for f in $(ls /srv/backups/*.tar.gz); do
  age=$(( ($(date +%s) - $(stat -c %Y $f)) / 86400 ))
  if [ $age -gt 30 ]; then rm $f; fi
done
```"""

C_CODE = """```c
char *join_path(const char *dir, const char *name) {
    char *out = malloc(strlen(dir) + strlen(name) + 1);
    strcpy(out, dir);
    strcat(out, "/");
    strcat(out, name);
    return out;
}
```"""

PY_DIFF = """```diff
--- a/tierd/budget.py
+++ b/tierd/budget.py
@@ -40,9 +40,11 @@ def remaining(ledger, budget):
-    spent = sum(row.cost for row in ledger.rows(budget.period))
-    return budget.limit - spent
+    spent = 0
+    for row in ledger.rows(budget.period):
+        if row.key == budget.key:
+            spent += row.cost
+    return max(budget.limit - spent, 0)
```"""

GO_DIFF = """```diff
--- a/internal/queue/worker.go
+++ b/internal/queue/worker.go
@@ -12,7 +12,10 @@ func (w *Worker) Run(ctx context.Context) {
 	for {
-		job := <-w.jobs
-		w.handle(job)
+		select {
+		case job := <-w.jobs:
+			go w.handle(job)
+		case <-ctx.Done():
+			return
+		}
 	}
 }
```"""

JS_DIFF = """```diff
--- a/src/components/Search.jsx
+++ b/src/components/Search.jsx
@@ -8,6 +8,9 @@ export function Search({ onQuery }) {
   const [text, setText] = useState("");
-  useEffect(() => onQuery(text), [text]);
+  useEffect(() => {
+    const id = setTimeout(() => onQuery(text), 300);
+    return () => clearTimeout(id);
+  }, [text]);
   return <input value={text} onChange={(e) => setText(e.target.value)} />;
```"""

REPO_TREE = """.
├── api/
│   ├── handlers/ (users.go, orders.go, health.go)
│   ├── middleware/ (auth.go, ratelimit.go)
│   └── server.go
├── worker/ (main.go, jobs.go, retry.go)
├── web/ (package.json, src/ 84 files)
├── migrations/ (0001_init.sql ... 0042_add_refunds.sql)
├── scripts/ (deploy.sh, seed.py)
├── docker-compose.yml
└── Makefile"""

MULTI_FILE_DUMP = """=== services/billing/client.py ===
import requests
def charge(customer_id, cents):
    return requests.post(f"{BASE}/charge", json={"c": customer_id, "a": cents})

=== services/mail/fetch.py ===
import requests
def inbox(token):
    return requests.get(f"{MAIL}/inbox", headers={"Authorization": token}, timeout=10)

=== services/prices/scrape.py ===
import requests
def page(url):
    return requests.get(url)

=== tools/report.py ===
from services.billing.client import charge
"""

CSV_ROWS = """name,email,signup,plan
Ada Lovelace,ada@example.org,2025-01-03,pro
Grace Hopper,grace@example.org,2025-01-17,free
Alan Turing,alan@example.org,2025-02-02,pro
Ada Lovelace,ada@example.org,2025-01-03,pro
Katherine Johnson,kj@example.org,2025-03-11,team"""

API_JSON = """{"data":{"user":{"id":4021,"name":"Priya N","plan":"pro",
"created":"2024-11-02T10:22:00Z","usage":{"tokens_in":1203391,"tokens_out":88210,
"cost_usd":3.91},"keys":[{"id":"k_1","label":
"cron-extract","last_used":"2025-05-12T06:00:41Z"},{"id":"k_2","label":"laptop","last_used":
null}]}},"meta":{"request_id":"req_88a1","took_ms":12}}"""

ESSAY_DRAFT = """Why I Moved My Models Home

Last year I spent more on API calls than on groceries. Not because I was doing anything
clever: most of those calls were a cron job asking a frontier model to pull dates out of
emails. When I finally looked at the bill, it's obvious what had happened — I had been
paying a poet to do data entry.

So I bought a small box, put a 14B model on it, and wrote a router. Their are still things
the big models do better, and I pay for those gladly. But the nightly jobs now cost nothing,
and the box sits in a cupboard humming quietly."""

ANNOUNCEMENT_DRAFT = """Subject: tierd 1.0 is here

We're happy to announce tierd 1.0, the first stable release of our routing daemon. With 1.0
you get per-key budgets, the new /ui page, and routing that sends mechanical work to your own
hardware. Upgrading from 0.9 is a drop-in replacement, except that the config key
`routing.tiers.cheap` is now required. Thanks to the 41 contributors who made this possible!"""

COVER_LETTER = """Dear Hiring Committee,

I am writing to apply for the position of Platform Engineer. For the last four years I have
ran the infrastructure of a 30-person startup, where I reduced our cloud spend by 60% and
moved our deploys from a weekly ritual to a non-event. I am excited about the chance to bring
this experience to a team whose product I already use every day.

Sincerely,
Marta Kowalski"""

RELEASE_NOTES = """## 2.3.0 — 2025-05-12
- New: `tierd costs --by key` shows spend per API key
- New: alerts before a free tier runs out
- Fixed: the index rebuild no longer re-embeds unchanged files
- Fixed: a crash when a budget had no period
- Changed: default cache TTL is now one hour (was ten minutes)"""

CHANGELOG_COMMITS = """a1f3e2c fix: handle empty tool_calls in streaming
9bd0c11 feat: add per-key budgets
77e0a9d chore: bump fastapi to 0.115
3c2b8f0 fix: reconnect to ollama after host sleep
e5d91aa docs: explain cascade escalation
0a8c4d2 feat: /ui cost chart by day"""

TICKETS = """#1181 "Export to CSV button does nothing in Firefox"
#1182 "Please add SSO with Okta"
#1183 "Charged twice this month"
#1184 "App crashes when uploading a 2 GB file"
#1185 "How do I change my email address?"
#1186 "Dark mode please!!!" """

PRODUCT_REVIEWS = """1. "Arrived quickly, works as described, would buy again."
2. "Stopped charging after a week. Support never answered."
3. "It's fine. Does the job, nothing special."
4. "Absolutely love it, my kids use it every day."
5. "Box was damaged but the product inside was ok." """

TOOLS_SYSTEM = (
    "You are a helpful assistant with access to the following tools:\n"
    "- search_web(query: str): search the web\n"
    "- read_file(path: str): read a file from the workspace\n"
    "- run_shell(cmd: str): run a shell command in the sandbox\n"
    "- send_message(channel: str, text: str): post to a chat channel\n"
    "Use the tools when they help. Think step by step and answer the user's request. "
    "When you call a tool, reply with a JSON object {\"tool\": ..., \"args\": {...}}.")

AUTOGEN_SYSTEM = (
    "You are the planner in a group chat of agents: Coder (writes and runs code), Researcher "
    "(searches the web and reads documents), Critic (reviews outputs). Read the conversation, "
    "decide which agent speaks next and what they should do. Reply TERMINATE when the task is "
    "done.")

REACT_SYSTEM = (
    "Answer the following questions as best you can. You have access to the following tools:\n"
    "calculator: useful for arithmetic\nweather: current weather for a city\n"
    "calendar: read and create events\n"
    "Use the following format:\nQuestion: the input question\nThought: you should always think "
    "about what to do\nAction: the action to take\nAction Input: the input to the action\n"
    "Observation: the result\n... (repeat)\nFinal Answer: the final answer")

CODING_AGENT_SYSTEM = (
    "You are an autonomous coding agent working in a git repository. You can call the tools "
    "list_dir, read_file, write_file, grep and run_tests. Make small, correct changes and run "
    "the tests before you finish.")
