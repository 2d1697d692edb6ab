"""The shared cache reuses its redis-py client (api/cache.py), from any number of threads."""

from concurrent.futures import ThreadPoolExecutor

from django.core.cache import cache


def test_every_call_shares_one_client():
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)


def test_threads_sharing_the_client_each_read_their_own_values():
    def round_trip(n: int) -> list[int]:
        got = []
        for i in range(50):
            cache.set(f"cache-test:{n}:{i}", n * 1000 + i, timeout=60)
            got.append(cache.get(f"cache-test:{n}:{i}"))
        return got

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(round_trip, range(8)))
    assert results == [[n * 1000 + i for i in range(50)] for n in range(8)]
    cache.delete_many([f"cache-test:{n}:{i}" for n in range(8) for i in range(50)])
