"""MkDocs hooks of the documentation site (mkdocs.yml's ``hooks``): every script and stylesheet
the site names is a file of its own, the notebooks join the site, and docs/'s links to the
repository's files that the site shows lead to their pages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent

# The repository's files that the site shows, by their paths from the root: their pages' paths.
# (benchmarks.md and changelog.md include their file; notebooks/ is added by on_files.)
SHOWN = {"BENCHMARKS.md": "benchmarks.md", "CHANGELOG.md": "changelog.md", "notebooks/": "notebooks/"}


@event_priority(-100)  # after the offline plugin's on_config, which adds a polyfill of its own
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Refuse a script or stylesheet from the network (the site must open from disk), and a
    missing docs/vendor/ (filled by ``make docs``)."""
    names = [str(s) for s in config.extra_javascript] + list(config.extra_css) + config.extra["polyfills"]
    for name in names:
        if urlsplit(name).scheme:
            raise PluginError(f"mkdocs.yml loads {name} from the network: bundle it under docs/ instead")
        if name.startswith("vendor/") and not (Path(config.docs_dir) / name).is_file():
            raise PluginError(f"docs/{name} is missing: `make docs` fetches it (docs/vendor/ from the npm registry)")
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns each .ipynb into a page
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add notebooks/ (its README.md and the stored notebooks) as the site's notebooks/ section:
    the notebooks live at the repository's root, outside docs_dir, and render from there."""
    for path in sorted((ROOT / "notebooks").glob("*")):
        if path.suffix in (".md", ".ipynb"):
            files.append(File(f"notebooks/{path.name}", str(ROOT), config.site_dir, config.use_directory_urls))
    return files


def on_page_markdown(markdown: str, page: Page, **kwargs: object) -> str:
    """A link of docs/ to a file at the repository's root that the site shows (``../BENCHMARKS.md``,
    right on GitHub) leads to its page on the site (``benchmarks.md``); any other link is left for
    the strict build to check."""
    depth = page.file.src_uri.count("/")
    for path, shown in SHOWN.items():  # ../ once more than the page's depth: the repository's root
        markdown = markdown.replace(f"]({'../' * (depth + 1)}{path}", f"]({'../' * depth}{shown}")
    return markdown
