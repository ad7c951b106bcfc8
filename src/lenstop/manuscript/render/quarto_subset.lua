--[[
quarto_subset.lua - the Quarto 1.7 manuscript features lenstop's fallback renderer supports,
as one pandoc Lua filter. It runs BEFORE citeproc (cross-references look like citations).

Metadata set by the renderer: lenstop-format ("html" | "typst"), lenstop-docdir (folder of
the article), lenstop-number-sections (HTML heading numbers), lenstop-typst-numbering (Typst
numbers headings), lenstop-notebook-links (not false: link embeds to their notebook cells).

Steps: refuse what is not supported; table cells holding one shortcode become paragraphs;
floats (#fig-, #tbl-: embeds, div form, `![](){#fig-}`, `: caption {#tbl-}`); callouts
(note, warning); numbering as Quarto does it (HTML; Typst numbers its own); cross-references
@fig-x / @tbl-x / @sec-x; HTML back matter (appendix block after the references, the
bibliography at the end when there is no #refs div, a warning callout before the first
heading lifted above the table of contents); Typst floats as Quarto writes them
(#figure(..., kind: "quarto-float-fig")). Problems are collected and raised together between
<<LENSTOP and LENSTOP>>, one per line: kind TAB key TAB message.
]]

local stringify = pandoc.utils.stringify

local FORMAT = "html"
local DOCDIR = "."
local META = nil
local errors = {}
local NBSP = "\u{a0}"

local function fail(kind, key, message)
  table.insert(errors, kind .. "\t" .. key .. "\t" .. message)
end

local function has_class(el, cls)
  for _, c in ipairs(el.classes or {}) do
    if c == cls then return true end
  end
  return false
end

local function flag(name)
  local v = META[name]
  return v == true or (v ~= nil and stringify(v) == "true")
end

local function float_kind(id)
  if id:match("^fig%-") then return "fig" end
  if id:match("^tbl%-") then return "tbl" end
  return nil
end

-------------------------------------------------------------------------- 1. refuse

local XREF_TYPES = {fig = true, tbl = true, sec = true, eq = true, lst = true, thm = true,
  lem = true, cor = true, prp = true, cnj = true, def = true, exm = true, exr = true,
  nte = true, wrn = true, imp = true, tip = true, cau = true}

local function check_attrs(el)
  for _, c in ipairs(el.classes) do
    if c == "content-visible" or c == "content-hidden" then
      fail("cond", c, "conditional content (." .. c .. ") is not supported by this renderer")
    end
    local kind = c:match("^callout%-(%a+)$")
    if kind and kind ~= "note" and kind ~= "warning" then
      fail("callout", c, "only callout-note and callout-warning are supported, not ." .. c)
    end
  end
  if el.t == "Div" and (has_class(el, "callout-note") or has_class(el, "callout-warning")) then
    for k, _ in pairs(el.attributes) do
      if k ~= "title" then
        fail("callout", k, "callout attribute '" .. k .. "' is not supported (only title)")
      end
    end
  end
end

local refuse_filter = {
  Div = function(d) check_attrs(d) end,
  Span = function(s) check_attrs(s) end,
  CodeBlock = function(c) check_attrs(c) end,
  Note = function() fail("note", "[^", "footnotes are not supported by this renderer") end,
}

-------------------------------------------------------------------------- 2. table cells

local CELL_CLASS = "lenstop-cellpara"

local function cell_paragraphs(tbl)
  local function fix_cell(cell)
    local b = cell.contents
    if #b == 1 and b[1].t == "Plain" and #b[1].content == 1 and b[1].content[1].t == "Span"
        and has_class(b[1].content[1], CELL_CLASS) then
      cell.contents = {pandoc.Para(b[1].content[1].content)}
    end
    return cell
  end
  local function fix_rows(rows)
    for _, row in ipairs(rows) do
      for i, cell in ipairs(row.cells) do row.cells[i] = fix_cell(cell) end
    end
  end
  fix_rows(tbl.head.rows)
  for _, body in ipairs(tbl.bodies) do fix_rows(body.body) end
  return tbl
end

local cell_filter = {
  Table = cell_paragraphs,
  Span = function(s) if has_class(s, CELL_CLASS) then return s.content end end,
}

-------------------------------------------------------------------------- 3. floats

local function fix_image(img)
  local src = img.src
  if src:match("^%a[%w+.-]*:") then
    if not src:match("^data:") then
      fail("image", src, "image '" .. src .. "' is remote; only local files are supported")
    end
  else
    src = src:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    if src:sub(1, 1) ~= "/" then src = DOCDIR .. "/" .. src end
    img.src = src
    local fh = io.open(src, "rb")
    if fh then fh:close() else
      fail("image", img.src, "image file '" .. src .. "' does not exist")
    end
  end
  local alt = img.attributes["fig-alt"]
  img.attributes["fig-alt"] = nil
  if FORMAT == "html" and alt then
    img.attributes["alt"] = alt
  end
  img.caption = {}
  return img
end

-- copy an embed's notebook link attributes onto the float it holds
local function embed_attrs(div)
  if not has_class(div, "quarto-embed-nb-cell") then return nil end
  for _, b in ipairs(div.content) do
    if b.t == "Div" and float_kind(b.identifier) then
      for k, v in pairs(div.attributes) do b.attributes[k] = v end
    end
  end
  return div
end

-- a float: a Div with the float's id and content; its caption is kept in `captions`
local captions = {}   -- id -> caption inlines

local function make_float(kind, id, content, attributes)
  return pandoc.Div(content, pandoc.Attr(id, {"lenstop-float", "lenstop-float-" .. kind},
    attributes or {}))
end

local function div_float(div)
  local kind = float_kind(div.identifier)
  if not kind or has_class(div, "lenstop-float") then return nil end
  local blocks = pandoc.List(div.content)
  local last = blocks[#blocks]
  if #blocks < 2 or not (last.t == "Para" or last.t == "Plain") then
    fail("caption", div.identifier, "'" .. div.identifier .. "' needs a caption: the last " ..
      "paragraph of its div")
    return nil
  end
  blocks:remove(#blocks)
  captions[div.identifier] = last.content
  local content = pandoc.List()
  for _, b in ipairs(blocks) do
    if b.t == "RawBlock" and (b.format == "html" or b.format == "html5") then
      -- notebook HTML output (pandas, great_tables): read into pandoc tables, styles dropped
      local parsed = pandoc.read(b.text, "html").blocks:walk({
        RawBlock = function() return {} end,
        RawInline = function() return {} end,
        Table = function(t) t.attr = pandoc.Attr("", {}, {}); return t end,
      }):walk({
        Div = function(d) return d.content end,
        Plain = function(p) if #p.content == 0 then return {} end end,
      })
      content:extend(parsed)
    elseif b.t == "Figure" then
      content:extend(b.content)
    elseif b.t == "Para" and kind == "fig" then
      content:insert(pandoc.Plain(b.content))
    else
      content:insert(b)
    end
  end
  if kind == "tbl" then
    local n = 0
    pandoc.Blocks(content):walk({Table = function() n = n + 1 end})
    if n ~= 1 then
      fail("table", div.identifier, "'" .. div.identifier .. "' must hold exactly one table, " ..
        "found " .. n)
    end
  end
  return make_float(kind, div.identifier, content, div.attributes)
end

local function figure_float(fig)
  local kind = float_kind(fig.identifier)
  if kind ~= "fig" then
    fail("figure", stringify(fig.caption.long):sub(1, 20),
      "a captioned image needs a #fig- label to be a Quarto figure (or no caption)")
    return nil
  end
  captions[fig.identifier] = pandoc.utils.blocks_to_inlines(fig.caption.long)
  local content = pandoc.List()
  for _, b in ipairs(fig.content) do
    content:insert(b.t == "Para" and pandoc.Plain(b.content) or b)
  end
  return make_float("fig", fig.identifier, content, fig.attributes)
end

local function table_float(tbl)
  local caption = pandoc.utils.blocks_to_inlines(tbl.caption.long)
  local kind = float_kind(tbl.identifier)
  if #caption == 0 then
    if kind then fail("caption", tbl.identifier, "table '" .. tbl.identifier ..
      "' needs a caption") end
    return nil
  end
  if kind ~= "tbl" then
    fail("table", stringify(caption):sub(1, 20), "a captioned table needs a #tbl- label")
    return nil
  end
  local id = tbl.identifier
  captions[id] = caption
  tbl.caption.long = {}
  tbl.identifier = ""
  return make_float("tbl", id, {tbl}, {})
end

-------------------------------------------------------------------------- 4. callouts

local CALLOUT_TITLES = {note = "Note", warning = "Warning"}

local function callout(div)
  local kind = has_class(div, "callout-warning") and "warning"
    or (has_class(div, "callout-note") and "note" or nil)
  if not kind then return nil end
  local content = pandoc.List(div.content)
  local title
  if div.attributes["title"] then
    title = pandoc.utils.blocks_to_inlines(pandoc.read(div.attributes["title"], "markdown").blocks)
  elseif content[1] and content[1].t == "Header" then
    title = content:remove(1).content
  else
    title = {pandoc.Str(CALLOUT_TITLES[kind])}
  end
  if FORMAT == "typst" then
    local out = pandoc.List({pandoc.Plain({pandoc.RawInline("typst",
      '#lenstop-callout(kind: "' .. kind .. '", title: [')})})
    out[1].content:extend(title)
    out[1].content:insert(pandoc.RawInline("typst", "])["))
    out:extend(content)
    out:insert(pandoc.RawBlock("typst", "]"))
    return pandoc.Div(out)
  end
  return pandoc.Div({
    pandoc.Div({pandoc.Plain(title)}, pandoc.Attr("", {"callout-header"})),
    pandoc.Div(content, pandoc.Attr("", {"callout-body"})),
  }, pandoc.Attr(div.identifier, {"callout", "callout-" .. kind}))
end

-------------------------------------------------------------------------- 5. numbering

local xref = {}   -- id -> {kind, num, numbered}

local function register(id, entry)
  if xref[id] then fail("dup", id, "the label '" .. id .. "' is used twice") end
  xref[id] = entry
end

local function number_elements(doc)
  local number_sections = flag("lenstop-number-sections")
  local counters = {0, 0, 0, 0, 0, 0}
  local count = {fig = 0, tbl = 0}
  return doc:walk({
    traverse = "topdown",
    Header = function(h)
      if has_class(h, "unnumbered") then
        if h.identifier:match("^sec%-") then register(h.identifier, {kind = "sec"}) end
        return nil
      end
      counters[h.level] = counters[h.level] + 1
      for l = h.level + 1, 6 do counters[l] = 0 end
      local parts = {}
      for l = 1, h.level do
        if counters[l] ~= 0 or #parts > 0 or l == h.level then
          table.insert(parts, tostring(counters[l]))
        end
      end
      local num = table.concat(parts, ".")
      if h.identifier:match("^sec%-") then
        register(h.identifier, {kind = "sec", num = num, numbered = true})
      end
      if number_sections and FORMAT == "html" then
        local inl = pandoc.List({pandoc.Span({pandoc.Str(num)},
          pandoc.Attr("", {"header-section-number"})), pandoc.Space()})
        inl:extend(h.content)
        h.content = inl
      end
      return h
    end,
    Div = function(d)
      if not has_class(d, "lenstop-float") then return nil end
      local kind = float_kind(d.identifier)
      count[kind] = count[kind] + 1
      register(d.identifier, {kind = kind, num = tostring(count[kind])})
      return nil
    end,
  })
end

-------------------------------------------------------------------------- 6. references

local bib_ids = nil
local bib_cited = 0

local function xref_kind(id)
  local prefix = id:match("^(%a+)%-")
  if prefix and XREF_TYPES[prefix] then return prefix end
  if prefix and XREF_TYPES[prefix:lower()] then return "capital" end
  return nil
end

local PREFIX = {fig = "Figure", tbl = "Table", sec = "Section"}

local function cite(el)
  local xrefs = 0
  for _, c in ipairs(el.citations) do
    if xref_kind(c.id) then xrefs = xrefs + 1 end
  end
  if xrefs == 0 then
    for _, c in ipairs(el.citations) do
      bib_cited = bib_cited + 1
      if not bib_ids[c.id] then
        fail("cite", "@" .. c.id, "citation @" .. c.id .. " is not in the bibliography")
      end
    end
    return nil
  end
  local c = el.citations[1]
  if #el.citations > 1 or #c.prefix > 0 or #c.suffix > 0 or c.mode == "SuppressAuthor" then
    fail("xref", "@" .. c.id, "only a plain @" .. c.id .. " cross-reference is supported " ..
      "(no groups, prefixes, suffixes or [-@...]): " .. stringify(el.content))
    return nil
  end
  local kind = xref_kind(c.id)
  if kind == "capital" then
    fail("xref", "@" .. c.id, "capitalised cross-references (@" .. c.id .. ") are not " ..
      "supported; write @" .. c.id:sub(1, 1):lower() .. c.id:sub(2))
    return nil
  end
  if not PREFIX[kind] then
    fail("xref", "@" .. c.id, "@" .. kind .. "- cross-references are not supported " ..
      "(only @fig-, @tbl-, @sec-)")
    return nil
  end
  local x = xref[c.id]
  if not x then
    fail("xref", "@" .. c.id, "unresolved cross-reference @" .. c.id .. " (nothing has the " ..
      "label #" .. c.id .. "; Quarto 1.7 prints ?@" .. c.id .. ")")
    return nil
  end
  if kind == "sec" and not x.numbered then
    fail("xref", "@" .. c.id, "@" .. c.id .. " refers to an unnumbered section")
    return nil
  end
  if kind == "sec" and not flag("lenstop-typst-numbering") then
    fail("xref", "@" .. c.id, "@" .. c.id .. " needs `number-sections: true`: without " ..
      "heading numbers Quarto 1.7's Typst fails (\"cannot reference heading without " ..
      "numbering\") and writes no PDF")
    return nil
  end
  if FORMAT == "typst" then
    return pandoc.RawInline("typst", "#ref(<" .. c.id .. ">, supplement: [" .. PREFIX[kind] ..
      "])")
  end
  return pandoc.Link({pandoc.Str(PREFIX[kind] .. NBSP .. x.num)}, "#" .. c.id, "",
    pandoc.Attr("", {"quarto-xref"}))
end

-------------------------------------------------------------------------- 7. HTML floats

local function html_float(d)
  if not has_class(d, "lenstop-float") then return nil end
  local kind = float_kind(d.identifier)
  local num = xref[d.identifier].num
  local href = d.attributes["lenstop-nb-href"]
  local listed = d.attributes["lenstop-nb-listed"] == "1"
  local label = pandoc.Str((kind == "fig" and "Figure" or "Table") .. NBSP .. num)
  local lead
  if href and listed and flag("lenstop-notebook-links") then
    lead = pandoc.Link({label}, href, "Source: " .. d.attributes["lenstop-nb-title"],
      pandoc.Attr("", {"lenstop-nblink"}))
  else
    lead = label
  end
  local cap = pandoc.List({lead, pandoc.Str(":"), pandoc.Space()})
  cap:extend(captions[d.identifier])
  local content = pandoc.List(d.content)
  if kind == "fig" then
    if href and listed and flag("lenstop-notebook-links") then
      content = pandoc.Blocks(content):walk({Image = function(img)
        return pandoc.Link({img}, href, "Source: " .. d.attributes["lenstop-nb-title"],
          pandoc.Attr("", {"lenstop-nblink"}))
      end})
    end
    return pandoc.Figure(content, {pandoc.Plain(cap)}, pandoc.Attr(d.identifier,
      {"quarto-float", "quarto-float-fig"}))
  end
  local out = pandoc.List({pandoc.Div({pandoc.Plain(cap)}, pandoc.Attr("",
    {"quarto-float-caption", "quarto-float-caption-top"}))})
  out:extend(content)
  return pandoc.Div(out, pandoc.Attr(d.identifier, {"quarto-float", "quarto-float-tbl"}))
end

local function html_embed(div)
  if not has_class(div, "quarto-embed-nb-cell") then return nil end
  local a = div.attributes
  if a["lenstop-nb-listed"] ~= "1" and a["lenstop-nb-inline"] == "1" then
    local text = pandoc.List({pandoc.Str("Source:"), pandoc.Space()})
    text:extend(pandoc.Inlines(a["lenstop-nb-title"]))
    div.content:insert(pandoc.Plain({pandoc.Link(text, a["lenstop-nb-href"], "",
      pandoc.Attr("", {"quarto-notebook-link"}))}))
  end
  for _, k in ipairs({"lenstop-nb-title", "lenstop-nb-href", "lenstop-nb-listed",
      "lenstop-nb-inline"}) do
    a[k] = nil
  end
  return div
end

-------------------------------------------------------------------------- 8. HTML back matter

local function has_refs_div(blocks)
  local found = false
  pandoc.Blocks(blocks):walk({Div = function(d) if d.identifier == "refs" then found = true end end})
  return found
end

local function html_back_matter(doc)
  local main, appendix, banner = pandoc.List(), pandoc.List(), pandoc.List()
  local level = nil
  local seen_header = false
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" then
      seen_header = true
      if has_class(b, "appendix") then
        level = b.level
      elseif level and b.level <= level then
        level = nil
      end
    end
    if level then
      if b.t == "Header" then
        b.classes:insert("unlisted")
        if has_class(b, "appendix") then b.classes:insert("quarto-appendix-heading") end
        if b.level == 1 then b.level = 2 end
      end
      appendix:insert(b)
    elseif not seen_header and b.t == "Div" and has_class(b, "callout-warning") then
      banner:insert(b)
    else
      main:insert(b)
    end
  end
  if bib_cited > 0 and not has_refs_div(doc.blocks) then
    appendix:insert(pandoc.Div({
      pandoc.Header(2, "References", pandoc.Attr("", {"unnumbered", "unlisted",
        "quarto-appendix-heading"})),
      pandoc.Div({}, pandoc.Attr("refs", {"references"})),
    }, pandoc.Attr("quarto-bibliography", {"quarto-appendix-contents"})))
  end
  if #appendix > 0 then
    main:insert(pandoc.Div(appendix, pandoc.Attr("quarto-appendix", {"default"})))
  end
  if #banner > 0 then doc.meta["lenstop-banner"] = pandoc.MetaBlocks(banner) end
  doc.blocks = main
  return doc
end

-------------------------------------------------------------------------- 9. Typst floats

local function typst_float(d)
  if not has_class(d, "lenstop-float") then return nil end
  local kind = float_kind(d.identifier)
  local out = pandoc.List({pandoc.RawBlock("typst", "#figure([")})
  out:extend(d.content)
  local tail = pandoc.Plain({pandoc.RawInline("typst", "], caption: figure.caption(position: " ..
    (kind == "fig" and "bottom" or "top") .. ", [")})
  tail.content:extend(captions[d.identifier])
  tail.content:insert(pandoc.RawInline("typst", "]), kind: \"quarto-float-" .. kind ..
    "\", supplement: \"" .. (kind == "fig" and "Figure" or "Table") .. "\")\n<" ..
    d.identifier .. ">"))
  out:insert(tail)
  return out
end

local function typst_embed(div)
  if not has_class(div, "quarto-embed-nb-cell") then return nil end
  return pandoc.Div(div.content)
end

-------------------------------------------------------------------------- main

function Pandoc(doc)
  META = doc.meta
  FORMAT = stringify(doc.meta["lenstop-format"] or "html")
  DOCDIR = stringify(doc.meta["lenstop-docdir"] or ".")
  bib_ids = {}
  for _, ref in ipairs(pandoc.utils.references(doc)) do bib_ids[ref.id] = true end

  doc:walk(refuse_filter)
  local has_h1 = false
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" and b.level == 1 then has_h1 = true end
  end
  if not has_h1 then
    fail("heading", "#", "the article needs level-1 headings (without them Quarto shifts " ..
      "Typst headings up a level, which this renderer does not do)")
  end
  doc = doc:walk(cell_filter)
  doc = doc:walk({traverse = "topdown", Div = embed_attrs})
  doc = doc:walk({Div = div_float, Image = fix_image})
  doc = doc:walk({Figure = figure_float, Table = table_float})
  doc = doc:walk({Div = callout})
  doc = number_elements(doc)
  doc = doc:walk({Cite = cite})
  if FORMAT == "html" then
    doc = doc:walk({Div = html_float})
    doc = doc:walk({Div = html_embed})
    doc = html_back_matter(doc)
  else
    doc = doc:walk({Div = typst_embed})
    doc = doc:walk({Div = typst_float})
  end
  for _, k in ipairs({"lenstop-format", "lenstop-docdir", "lenstop-number-sections",
      "lenstop-typst-numbering", "lenstop-notebook-links"}) do
    doc.meta[k] = nil
  end
  if #errors > 0 then
    error("<<LENSTOP\n" .. table.concat(errors, "\n") .. "\nLENSTOP>>")
  end
  return doc
end
