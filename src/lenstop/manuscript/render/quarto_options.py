"""Quarto 1.7.34's document and cell option names that apply to the html or typst format.

Read from Quarto's schema (`src/resources/schema/{document,cell}-*.yml`). An option named here
that the fallback renderer does not implement is an error, never silently ignored.
"""

QUARTO_OPTIONS = frozenset("""
    abbreviations about abstract abstract-title aliases anchor-sections animation-hook
    aniopts appendix-cite-as appendix-style ascii attr-error attr-message attr-output
    attr-source attr-warning author author-meta autodep backgroundcolor bibliography
    bibliographystyle body-classes brand brand-mode cache cache-comments cache-globals
    cache-lazy cache-path cache-rebuild cache-vars canonical-url cap-location child citation
    citation-abbreviations citation-location citations-hover citeproc class-error
    class-message class-output class-source class-warning classes classoption code
    code-annotations code-block-bg code-block-border-left code-copy code-fold
    code-line-numbers code-link code-links code-overflow code-summary code-tools collapse
    column columns comment comments copyright crossref crossrefs-hover csl css
    css-property-processing daemon daemon-restart data-dir date date-meta date-modified
    debug default-image-extension defaults dependson description-meta df-print dir
    document-css doi dpi dump-args echo editor email-obfuscation embed-resources enabled
    engine error eval export extract-media fail-if-warnings fig-align fig-alt fig-asp
    fig-cap fig-cap-location fig-column fig-dpi fig-format fig-height fig-keep fig-link
    fig-responsive fig-show fig-subcap fig-width file file-scope filters font-paths
    fontcolor fontsize footnotes-hover format-links freeze from funding grid header-includes
    highlight highlight-style html-math-method html-pre-tag-processing html-q-tags
    html-table-processing id identifier-prefix ignore-args image image-alt image-height
    image-lazy-loading image-width include include-after include-after-body include-before
    include-before-body include-in-header incremental indented-code-classes input-file
    input-files institute interval ipynb ipynb-filters ipynb-shell-interactivity julia
    jupyter keep-hidden keep-ipynb keep-md keep-source keep-typ keywords knitr label lang
    language layout layout-align layout-ncol layout-nrow layout-valign license lightbox
    linestretch link-external-filter link-external-icon link-external-newwindow linkcolor
    listing log-file logo lst-cap lst-label mainfont margin margin-bottom margin-left
    margin-right margin-top max-width merge-includes mermaid message metadata metadata-file
    metadata-files minimal monobackgroundcolor monofont notebook-links
    notebook-preview-options notebook-view notebook-view-style number-depth number-offset
    number-sections ojs-engine order other-links out-extra out-height out-width output
    output-divs output-ext output-file page-layout page-numbering pagetitle panel papersize
    plotly-connected prompt purl quarto-required reference-location renderings repo-actions
    request-headers resource-path resources respect-user-color-scheme results search
    section-divs section-numbering self-contained self-contained-math server
    shift-heading-level-by shortcodes slide-level smooth-scroll strip-comments subtitle
    syntax-definition syntax-definitions tabsets tags tbl-cap tbl-cap-location tbl-column
    tbl-colwidths tbl-subcap template template-partials theme tidy tidy-opts title
    title-block-banner title-block-banner-color title-block-categories title-block-style
    title-prefix to toc toc-depth toc-expand toc-indent toc-location toc-title trace
    variables verbosity warning zotero
""".split())
