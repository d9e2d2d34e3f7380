"""The one compiled part: scraper.pages._lexwalk, optional (see README, "Parsing speed").

Everything else is in pyproject.toml.  Where no C compiler is found the build goes on
without it, and message bodies are read by the pure-Python walk instead (same output).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "scraper.pages._lexwalk",
            sources=["scraper/pages/_lexwalk.c"],
            libraries=["dl"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
