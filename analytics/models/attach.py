"""Querysets that hand the rows they fetched to functions setting more on them, as
``prefetch_related`` does: what another store holds (events counted in ClickHouse) is
read once for the page fetched, not once per row nor for every row that could be."""

from django.db import models
from django.db.models.query import ModelIterable


class AttachingQuerySet(models.QuerySet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._attachers = ()

    def attach(self, attacher):
        """These rows, and once fetched, ``attacher(rows)`` called with them (a list of
        model instances) before they are handed out."""
        clone = self._chain()
        clone._attachers = (*self._attachers, attacher)
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._attachers = self._attachers
        return clone

    def _fetch_all(self):
        fetching = self._result_cache is None
        super()._fetch_all()
        if fetching and self._attachers and self._iterable_class is ModelIterable:
            for attacher in self._attachers:
                attacher(self._result_cache)
