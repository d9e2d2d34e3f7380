"""Web archives as a source of pages: WARC/WACZ files and Wayback-compatible servers.

* ``captures``: the typed records (``Capture``, ``Skipped``), what a captured URL
  is (``classify_url``) and whether a recorded answer is usable (``judge``);
* ``warc``: reading ``.warc``, ``.warc.gz`` and ``.wacz`` files with warcio;
* ``cdx``: the CDX index APIs of the Internet Archive and of pywb — queries
  built and answers read, without I/O;
* ``wayback``: a polite client for a Wayback-compatible archive (CDX lookup,
  raw ``id_`` replay) on the scraper's own ``Fetcher`` and ``RateLimiter``.

Only reading: nothing here ever asks an archive to record anything.
"""
