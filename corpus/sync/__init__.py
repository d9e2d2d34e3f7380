"""``corpus sync``: politely collect request threads from an Alaveteli site.

How a run goes:

1. The options are checked once (:class:`SyncOptions`; nothing is written if
   they are wrong), then the database's sync lock is taken for the whole run.
2. ``site``: robots.txt is read (stored as a page, its rules and Crawl-delay
   obeyed) and the site is checked to look like Alaveteli.
3. ``discover``: a producer walks the listings of each ``--authority`` /
   ``--user`` / ``--query`` and offers every request found to the frontier;
   explicit ``--request`` values go straight in.  Items whose listing
   signature has not changed since they were fetched are not queued again.
4. ``fetching`` + ``loop``: a fetch loop takes queued threads and GETs
   ``/request/<slug>`` (conditional on the stored ETag) and its ``.json``, one
   request at a time at the allowed rate; each thread is parsed in a worker
   thread (``corpus.pipeline``) while the next request waits for its slot.
5. ``corpus.writer``: every few threads a batch is written in one transaction
   (raw pages, parsed threads, frontier states, parse failures, discoveries).
   The database is opened only for the batch, so readers can use it in
   between, and a crash never leaves half a thread.

A bot challenge stops the run at once (exit 3); Ctrl-C stops it cleanly
(exit 130); either way the queue is kept and the same command resumes it.
"""

from corpus.sync.options import SyncOptions
from corpus.sync.run import run_sync
from corpus.sync.summary import SyncSummary

__all__ = ["SyncOptions", "SyncSummary", "run_sync"]
