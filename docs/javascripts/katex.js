// Renders the math of every page with the KaTeX bundled in vendor/katex (never a CDN: the site
// opens from disk). Markdown pages: pymdownx.arithmatex (generic mode) leaves each formula as
// \(…\) or \[…\] in an element of class "arithmatex". Notebook pages: their Markdown cells keep
// Jupyter's $…$ and $$…$$. Material calls this after every page load (document$).
document$.subscribe(({ body }) => {
  const options = (delimiters) => ({ delimiters, throwOnError: false });
  for (const element of body.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, options([
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ]));
  }
  for (const element of body.querySelectorAll(".jp-RenderedMarkdown")) {
    renderMathInElement(element, options([
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
    ]));
  }
});
