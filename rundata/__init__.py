"""The reading layer: what runs left behind, read only, for ``trackers`` (replay, read-back) and ``viewer`` alike.

``rundata.store`` reads Trackio databases (``store_open``: where they are and how
they are opened; ``store_sql``: SQL on the metrics' JSON; ``store_series``: the
series queries).
"""
