"""The reading layer: what runs left behind, read only, for ``trackers`` (replay, read-back), sweeps and ``viewer``.

``rundata.journal`` is the run journal's record format and its one reader;
``rundata.journal_project`` reads the journals of a ``runs/<project>`` folder
as a project with Trackio's tables; ``rundata.histogram`` is the histogram
value both give back. ``rundata.store`` reads Trackio databases: one class,
``Project``, holds every query of a project (``store_open``: where the files
are and how one is opened; ``store_sql``: SQL on the metrics' JSON).
Nothing here imports ``trackers``, ``training``, ``sweeps`` or ``viewer``.
"""
