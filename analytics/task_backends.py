"""A django.tasks backend that runs tasks in threads of the web process.

Enough for one self-hosted server: ``enqueue`` returns at once, the task runs in a small
pool of threads next to the requests, and pages follow it through the rows it writes
(a ``Deletion``). Nothing is stored about the task itself, so a task that is running when
the process stops is lost; a deployment that needs more sets ``TASKS`` to a worker-based
backend, and the tasks stay as they are.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from django.tasks.backends.immediate import ImmediateBackend


class ThreadPoolBackend(ImmediateBackend):
    """ImmediateBackend, with each task run in a pool thread instead of by ``enqueue``.

    OPTIONS: ``MAX_WORKERS``, the tasks that run at once (default 2); more wait their turn.
    """

    # django.tasks builds a backend per thread; the pool belongs to the process.
    _pools = {}
    _pools_lock = threading.Lock()

    def __init__(self, alias, params):
        super().__init__(alias, params)
        self.max_workers = int(self.options.get("MAX_WORKERS", 2))

    @property
    def pool(self):
        with self._pools_lock:
            if self.alias not in self._pools:
                self._pools[self.alias] = ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix=f"tasks-{self.alias}"
                )
            return self._pools[self.alias]

    def _execute_task(self, task_result):
        self.pool.submit(self._execute_in_thread, task_result)

    def _execute_in_thread(self, task_result):
        try:
            super()._execute_task(task_result)
        finally:
            # The thread outlives the task: give its connections back.
            connections.close_all()
