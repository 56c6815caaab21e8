"""Prompts for the code tier: code (write, fix, debug, port, optimise code that needs
thinking) and code_review (judge code someone wrote: bugs, safety, style, readiness).

Many code prompts carry no "write a function" phrase: a deadlock to debug, a failing test, a
data structure named by its language.
"""

from __future__ import annotations

from materials import (
    BASH_CODE,
    C_CODE,
    CODING_AGENT_SYSTEM,
    GO_CODE,
    GO_DIFF,
    JAVA_CODE,
    JS_CODE,
    JS_DIFF,
    PY_CODE,
    PY_DEADLOCK,
    PY_DIFF,
    PY_FAILING_TEST,
    RUST_CODE,
    SQL_CODE,
    TS_CODE,
)
from shapes import chat, user

_READ_ALL_CSV = """```python
def totals(path):
    rows = list(csv.DictReader(open(path)))
    by_customer = {}
    for row in rows:
        by_customer[row["customer"]] = by_customer.get(row["customer"], 0) + float(row["amount"])
    return by_customer
```"""

_CALLBACKS = """```javascript
function readConfig(path, cb) {
  fs.readFile(path, "utf8", (err, text) => {
    if (err) return cb(err);
    try { cb(null, JSON.parse(text)); } catch (e) { cb(e); }
  });
}
```"""

_REACT_LOOP = """```jsx
function Prices({ symbol }) {
  const [data, setData] = useState([]);
  useEffect(() => {
    fetch(`/api/prices/${symbol}`).then((r) => r.json()).then(setData);
  });
  return <Chart points={data} />;
}
```"""

_RUST_BORROW = """```rust
fn longest_line(text: &str) -> &str {
    let lines: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    lines.iter().max_by_key(|l| l.len()).unwrap()
}
```"""

_GO_COUNTER = """```go
var count int
var wg sync.WaitGroup
for i := 0; i < 10; i++ {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := 0; j < 100; j++ {
			count++
		}
	}()
}
wg.Wait()
fmt.Println(count)
```"""

_EXPLAIN = """Seq Scan on orders o  (cost=0.00..412883.10 rows=20113208 width=16)
  Filter: (created_at >= '2024-01-01')
Hash Join  (cost=3110.00..598221.33 rows=20113208 width=40)"""

CODE = [
    user("Debug this deadlock — two transfers in opposite directions hang forever.\n\n"
         + PY_DEADLOCK),
    user("This test fails. Make it pass without changing the test.\n\n" + PY_FAILING_TEST),
    user("Rust ring buffer with a fixed capacity: push overwrites the oldest element when "
         "full, and an iterator goes from oldest to newest."),
    user("Why does loadUsers return an empty array? Fix it.\n\n" + JS_CODE),
    user("The Go Get method leaks the read lock on the happy path. Patch it.\n\n" + GO_CODE),
    user("Port this bash script to Python with pathlib, and make it safe for filenames with "
         "spaces.\n\n" + BASH_CODE),
    user("I need a SQL query for monthly active users over the last 12 months from "
         "events(user_id, ts). Postgres."),
    user("LRU cache in TypeScript, get and put in O(1), generic over key and value types."),
    user("Our worker runs out of memory on 4 GB CSVs. Make it stream instead of loading "
         "everything.\n\n" + _READ_ALL_CSV),
    user("The tests in tests/test_budget.py fail after yesterday's refactor. Get them green.",
         system=CODING_AGENT_SYSTEM),
    user("How do I make this C function safe against overflow and NULL inputs?\n\n" + C_CODE),
    user("This query takes 40 s on 20M rows; the plan is below. Make it fast.\n\n" + SQL_CODE
         + "\n" + _EXPLAIN),
    user("Make the RateLimiter thread-safe and switch it to a sliding window.\n\n"
         + JAVA_CODE),
    user("regex for semantic versions, including pre-release and build tags like "
         "1.2.3-rc.1+build.5"),
    user("A tiny Go HTTP middleware that logs method, path, status and duration for every "
         "request, please."),
    user("Convert this callback-style Node code to async/await, keep the error behaviour.\n\n"
         + _CALLBACKS),
    user("Parse RFC 3339 timestamps in Rust without pulling in chrono or time."),
    chat([("user", "Give me a Rust function that returns the median of a Vec<f64>."),
          ("assistant", "```rust\nfn median(mut v: Vec<f64>) -> f64 {\n    v.sort_by(|a, b| "
                        "a.partial_cmp(b).unwrap());\n    let mid = v.len() / 2;\n    if v.len()"
                        " % 2 == 0 { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] }\n}\n```"),
          ("user", "that panics on an empty vec: thread 'main' panicked at 'attempt to subtract "
                   "with overflow'. can you fix it and return an Option?")]),
    user("Kotlin coroutine that polls an endpoint every 5 s until the status is done, with an "
         "overall timeout of 2 minutes."),
    user("My React component re-renders in an infinite loop and hammers the API:\n\n"
         + _REACT_LOOP),
    user("Dijkstra over an adjacency dict like {'a': {'b': 4, 'c': 1}, ...}, returning the "
         "path as well as the distance."),
    user("Add type hints to this module and make mypy --strict pass.\n\n" + PY_CODE),
    user("rustc says `cannot return value referencing local variable lines` here. How do I "
         "fix it without cloning everything?\n\n" + _RUST_BORROW),
    user("Two threads that miss the cache at the same moment both read the file. Make "
         "get_config load each path exactly once.\n\n" + PY_CODE),
    user("Build me a Go CLI: `tally <dir>` counts lines per file extension, skips .git and "
         "prints the counts sorted, biggest first."),
    user("bash one-liner: the 10 biggest files under /srv modified in the last 7 days"),
    user("haskell: fold a list of (key, value) pairs into a Map, summing the values of "
         "duplicate keys"),
    user("Race condition: this prints less than 1000 most runs. Why, and how do I fix it "
         "properly?\n\n" + _GO_COUNTER),
    user("Implement exponential backoff with full jitter around our async httpx client, with "
         "a cap and a max number of attempts."),
    user("I've got a Python generator pipeline that needs to fan out to 8 worker processes "
         "and keep the output order. How would you code that?"),
]

_SQL_FSTRING = """```python
def find_user(conn, name):
    cur = conn.execute(f"SELECT * FROM users WHERE name = '{name}'")
    return cur.fetchone()
```"""

_POOL_DIFF = """```diff
--- a/api/db.py
+++ b/api/db.py
@@ -3,5 +3,6 @@
-POOL_SIZE = 5
+import os
+POOL_SIZE = int(os.environ["API_POOL_SIZE"])
 def pool():
     return create_pool(DSN, size=POOL_SIZE)
```"""

_MIGRATION = """```sql
ALTER TABLE orders ADD COLUMN refund_cents integer NOT NULL;
UPDATE orders SET refund_cents = 0;
CREATE INDEX orders_refund_idx ON orders (refund_cents);
```"""

_DOCKERFILE = """```dockerfile
FROM python:3.12
COPY . /app
RUN pip install -r /app/requirements.txt
ENV API_KEY=sk-live-1234
CMD python /app/main.py
```"""

_HOOK = """```jsx
function useTicker(onTick) {
  const [n, setN] = useState(0);
  useEffect(() => {
    const id = setInterval(() => { setN(n + 1); onTick(n); }, 1000);
    return () => clearInterval(id);
  }, []);
  return n;
}
```"""

_K8S_MANIFEST = """```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: api
        image: registry/api:latest
```"""

_BSEARCH = """```python
def bsearch(xs, target):
    lo, hi = 0, len(xs)
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] < target:
            lo = mid
        else:
            hi = mid - 1
    return lo
```"""

_FIRST_GO = """```go
package main

import "fmt"

func main() {
    names := []string{"ana", "ben"}
    for i := 0; i <= len(names); i++ {
        fmt.Println("hello " + names[i])
    }
}
```"""

_WORKFLOW = """```yaml
on: pull_request_target
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {ref: "${{ github.event.pull_request.head.sha }}"}
      - run: make test
        env: {DEPLOY_TOKEN: "${{ secrets.DEPLOY_TOKEN }}"}
```"""

_ROUNDING_DIFF = """```diff
-    cents = int(amount * 100)
+    cents = round(amount * 100)
     vat = cents * 19 // 100
```"""

_RUST_BUG = """```rust
fn average(xs: &[i32]) -> i32 {
    let sum: i32 = xs.iter().sum();
    sum / xs.len() as i32
}
```"""

CODE_REVIEW = [
    user("Review this diff.\n\n" + PY_DIFF),
    user("Can you look over my PR before I merge? I'm mainly worried about goroutine leaks."
         "\n\n" + GO_DIFF),
    user("Is this debounce change correct? Any edge cases I'm missing?\n\n" + JS_DIFF),
    user("Audit this C function for memory-safety issues.\n\n" + C_CODE),
    user("What's wrong with this code? Sometimes the list comes back empty.\n\n" + JS_CODE),
    user("Critique the error handling in this Rust parser.\n\n" + RUST_CODE),
    user("security review pls\n\n" + _SQL_FSTRING),
    user(PY_DIFF, system="You are a senior code reviewer. Comment on correctness, "
                         "readability and tests, as inline comments like `L12: ...`."),
    user("Nitpicks on naming and structure for this Java class? Be picky.\n\n" + JAVA_CODE),
    user("Does this SQL have correctness problems? It feeds the revenue dashboard.\n\n"
         + SQL_CODE),
    user("Please review this bash script before I put it in root's crontab.\n\n" + BASH_CODE),
    user("Is this TypeScript debounce typed correctly? What would you change?\n\n" + TS_CODE),
    user("code review: thread safety of this cache\n\n" + PY_CODE),
    user("Look at Store.Get below and tell me whether it's safe under concurrent use.\n\n"
         + GO_CODE),
    user("PR #412 makes the pool size configurable. Review it for backwards compatibility.\n\n"
         + _POOL_DIFF),
    chat([("user", "My Go program prints an index out of range error:\n\n" + _FIRST_GO),
          ("assistant", "The loop runs one step too far: use `i < len(names)`, or better "
                        "`for _, name := range names`."),
          ("user", "ok I changed it to use range. here's the new version, does it look right "
                   "now?\n\n```go\nfor _, name := range names {\n    fmt.Println(\"hello \" + "
                   "name)\n}\n```")]),
    user("Rate this function's readability from 1 to 10 and tell me what would make it a 10."
         "\n\n" + _READ_ALL_CSV),
    user("Any issues with this migration before it runs on prod (orders has 20M rows)?\n\n"
         + _MIGRATION),
    user("Review the Dockerfile: image size, security, layer caching.\n\n" + _DOCKERFILE),
    user("Does this hook have stale-closure bugs?\n\n" + _HOOK),
    user("Is this manifest production-ready? What's missing?\n\n" + _K8S_MANIFEST),
    user("Review the changes on this branch against main and list anything that should "
         "block the merge.\n\n" + GO_DIFF, system=CODING_AGENT_SYSTEM),
    user("Are there off-by-one errors in this binary search?\n\n" + _BSEARCH),
    user("I'm a junior dev — could you give me feedback on my first Go program? Honest but "
         "kind, please.\n\n" + _FIRST_GO),
    user("Check this regex for catastrophic backtracking: `^(a+)+$`, applied to user input "
         "in our signup form."),
    user("Will anything here break when we move to Python 3.12?\n\n```python\nimport imp\n"
         "from distutils.version import LooseVersion\nmod = imp.load_source('cfg', path)\n"
         "```"),
    user("find bugs\n\n" + _RUST_BUG),
    user("Review this GitHub Actions workflow for secret exposure.\n\n" + _WORKFLOW),
    user("Second opinion on this diff? My reviewer said it's fine but I'm not sure about the "
         "rounding.\n\n" + _ROUNDING_DIFF),
    user("LGTM or not? One paragraph, then the blocking issues if any.\n\n" + _POOL_DIFF),
]
