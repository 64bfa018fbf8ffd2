import os
from argparse import ArgumentTypeError

from django.core.management.base import CommandError
from django.db import IntegrityError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from analytics.models import TaskWorker
from analytics.worker import HEARTBEAT, Worker


def heartbeat_seconds(value):
    seconds = float(value)
    if not 0 < seconds <= TaskWorker.SILENT_AFTER.total_seconds() / 3:
        limit = TaskWorker.SILENT_AFTER.total_seconds() / 3
        raise ArgumentTypeError(f"must be more than 0 and at most {limit:g} seconds")
    return seconds


class Command(db_worker.Command):
    help = (
        "Run the background work queued in the database, from every queue unless "
        "--queue-name says otherwise. Tasks of workers that died go back to the queue "
        "(analytics/worker.py). Stops after its task on SIGTERM or SIGINT; at once on a "
        "second one."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(queue_name="*")
        parser.add_argument(
            "--heartbeat",
            type=heartbeat_seconds,
            default=HEARTBEAT,
            help="Seconds between the worker's proofs of life, each also a look for tasks "
            "of dead workers (default: %(default)r)",
        )

    def handle(self, *, verbosity, queue_name, exclude_queues, reload, **options):
        self.configure_logging(verbosity)
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and queue_name != "*":
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_name.split(","),
            excluded_queue_names=excluded,
            **{
                name: options[name]
                for name in (
                    "interval", "batch", "backend_name", "startup_delay", "max_tasks",
                    "worker_id", "heartbeat",
                )
            },
        )
        if reload and not options["batch"]:
            # As db_worker: the reloader's own process takes no signals of the worker's.
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
            return
        worker.configure_signals()
        try:
            worker.run()
        except IntegrityError as error:
            raise CommandError(
                f"A worker with id {options['worker_id']!r} is running already: give each "
                "worker its own --worker-id, or none."
            ) from error
