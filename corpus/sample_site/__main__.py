"""Run the sample site: ``python -m corpus.sample_site [--port N] [--threads N]``.

Prints the site's URL on the first line of stdout, then serves until stopped.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from corpus.sample_site import FakeSite, generate_corpus, sample_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.sample_site", description="Serve the sample Alaveteli site on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--threads", type=int, default=None, help="at most N requests handled at once")
    parser.add_argument("--generate", type=int, metavar="N", default=None, help="serve a synthetic corpus of N requests instead of the sample")
    parser.add_argument("--seed", type=int, default=0, help="seed for --generate")
    args = parser.parse_args(argv)
    corpus = generate_corpus(args.generate, seed=args.seed) if args.generate else sample_corpus()
    site = FakeSite(corpus, port=args.port, threads=args.threads)
    site.start()
    print(site.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
