"""The benchmark runner's pure parts: reading wrk's report, percentiles, the slot plan."""

import json

from benchmarks.harness import percentile
from benchmarks.load import SlotPlan, parse_wrk

WRK_REPORT = """\
Running 20s test @ http://127.0.0.1:40123
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    88.51ms   40.12ms 612.00ms   71.25%
    Req/Sec   181.20     40.33   270.00     69.00%
  Latency Distribution
     50%   80.10ms
     75%  105.33ms
     90%  140.02ms
     99%  250.50ms
  7260 requests in 20.04s, 3.11MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:    362.28
Transfer/sec:    158.91KB
"""


def test_it_reads_rate_percentiles_and_errors_from_a_wrk_report():
    result = parse_wrk(WRK_REPORT)
    assert result.requests == 7260
    assert result.rate == 362.28
    assert abs(result.seconds - 20.04) < 1e-9
    assert abs(result.p50 - 0.0801) < 1e-9
    assert abs(result.p99 - 0.2505) < 1e-9
    assert result.errors == 5


# An overloaded run as wrk 4.2 prints it: a figure ending in one letter is padded with a
# trailing space to keep the columns ("   1.20s " beside "  80.10ms").
OVERLOADED_WRK_REPORT = (
    "Running 20s test @ http://127.0.0.1:40123\n"
    "  2 threads and 32 connections\n"
    "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
    "    Latency     1.02s   310.40ms   1.99s    68.12%\n"
    "    Req/Sec    16.20      9.33    50.00     69.00%\n"
    "  Latency Distribution\n"
    "     50%  950.00us\n"
    "     75%  105.33ms\n"
    "     90%    1.01s \n"
    "     99%    1.20s \n"
    "  620 requests in 20.04s, 0.31MB read\n"
    "Requests/sec:     30.94\n"
    "Transfer/sec:     15.91KB\n"
)


def test_it_reads_microseconds_and_the_padded_seconds_of_an_overloaded_run():
    result = parse_wrk(OVERLOADED_WRK_REPORT)
    assert abs(result.p50 - 0.00095) < 1e-12
    assert abs(result.p99 - 1.2) < 1e-12
    assert result.requests == 620 and result.errors == 0


def test_it_reads_minutes():
    result = parse_wrk(OVERLOADED_WRK_REPORT.replace("   1.20s ", "   1.50m "))
    assert abs(result.p99 - 90.0) < 1e-9


def test_the_nearest_rank_percentile():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7], 0.99) == 7


def test_every_request_of_a_plan_asks_for_its_own_slot():
    plan = SlotPlan(spaces=[3, 4, 5], tokens=["a", "b"], first=1_800_000_000)
    asked = set()
    for k in range(30):
        body, token = plan.body(k)
        request = json.loads(body)
        asked.add((request["space"], request["start"]))
        assert token in ("a", "b")
        assert request["start"].endswith("Z") and request["end"] > request["start"]
    assert len(asked) == 30
