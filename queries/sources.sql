-- sources: Where the corpus's threads came from, and how old the copies are.
--
-- What it answers:
--   How many threads came from the live site, from a web archive (a
--   Wayback-compatible server, with `corpus sync --archive`) or from files
--   (saved pages, WARC/WACZ files, with `corpus import`), per archive or file,
--   with the capture dates of those copies. A thread from an archive is "as of"
--   its capture: its status may have changed since.
--
-- Parameters (the runner binds them; in the duckdb shell: SET VARIABLE name = value;):
--   provenance  ENUM(live,archive,file)  NULL  only threads from the live site, an archive, or a file
--   authority   VARCHAR  NULL  only requests to this authority (url_name)
--   site        VARCHAR  NULL  only threads from this site (its base URL, e.g. https://www.whatdotheyknow.com)
--
-- Columns:
--   provenance       live | archive | file
--   source           the archive (its base URL) or the file read; NULL for the live site
--   threads          threads whose pages came from there
--   share            threads / all threads selected
--   oldest_capture   the earliest capture among them (NULL for the live site and saved HTML)
--   newest_capture   the latest capture among them
--   last_seen        when the newest of them was last loaded
--
-- Caveats:
--   Saved HTML pages carry no capture time, so their as_of is NULL. A later
--   sync that reaches the live site replaces archived threads with live ones.
SELECT
    coalesce(r.provenance, 'live') AS provenance,
    r.provenance_name AS source,
    count(*) AS threads,
    round(count(*) / sum(count(*)) OVER (), 4) AS share,
    min(r.as_of) AS oldest_capture,
    max(r.as_of) AS newest_capture,
    max(r.last_seen) AS last_seen
FROM requests AS r
WHERE (getvariable('provenance') IS NULL OR coalesce(r.provenance, 'live') = getvariable('provenance'))
  AND (getvariable('authority') IS NULL OR r.authority_url_name = getvariable('authority'))
  AND (getvariable('site') IS NULL OR r.site = getvariable('site'))
GROUP BY ALL
ORDER BY threads DESC, provenance, source;
