"""Renderers of earlier Alaveteli request-page markup, for tests only.

The sample site's renderer (``corpus.sample_site.render``) is the one for
today's markup; each module here renders an earlier era from the same data
model.  ``FIXTURES`` lists the fixture files ``generate.py`` writes under
``tests/fixtures/eras/``: (era, file stem, story, renderer, JSON shape).
"""
