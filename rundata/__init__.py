"""The reading layer: what runs left behind, read only, for ``trackers`` (replay, read-back) and ``viewer`` alike.

``rundata.store`` reads Trackio databases: one class, ``Project``, holds every
query of a project (``store_open``: where the files are and how one is opened;
``store_sql``: SQL on the metrics' JSON).
"""
