"""Full-text search over messages and extracted attachment text.

* ``corpus.search.words``: what a word is, and the regular expressions that
  check a hit against the stored text (pure, no I/O);
* ``corpus.search.index``: the Tantivy index kept beside the database
  (``foi.duckdb.search/``) and the ``search_docs`` table that says what it
  holds; ``update_search_index(con, since=...)`` brings it up to date, and runs
  as the last step of ``corpus.derive.rebuild``;
* ``corpus.search.query``: the ``search`` canned query, answered from the index
  when there is one and by a scan (``queries/search.sql``) when there is not.
"""

from corpus.search.index import index_dir, update_search_index

__all__ = ["index_dir", "update_search_index"]
