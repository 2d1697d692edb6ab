"""Django's Redis cache, with one redis-py client per connection pool.

Django builds a new redis-py client for every cache call, and a client's construction sets up
its ~170 response callbacks: on the intake, which reads a space's entry for every request, that
cost as much as the round trip itself. A client is thread-safe over its pool (each command
borrows a connection from it), so one per pool serves every thread of the process.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
