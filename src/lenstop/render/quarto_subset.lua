--[[
quarto_subset.lua - the Quarto features lenstop's fallback renderer supports, as one pandoc
Lua filter. It must run BEFORE --citeproc (cross-references look like citations).

Parameters (pandoc -M): lenstop-format = "html" | "typst", lenstop-docdir = absolute folder
of the article (relative image paths resolve against it).

Steps, in order:
  1. conditional content (.content-visible / .content-hidden with when-/unless-format and
     when-/unless-meta) on divs, spans and code blocks;
  2. Quarto's div form of figures and tables (::: {#fig-x} ... caption :::), including the
     divs written by {{< embed >}} (raw HTML tables are parsed into pandoc tables here);
     image paths made absolute, fig-alt applied as alt text;
  3. callouts (.callout-note/-warning/-important/-tip/-caution) -> styled boxes;
  4. numbering of sections, figures (#fig-) and tables (#tbl-) in source order, as Quarto;
     captions prefixed "Figure N: ", headings prefixed when number-sections is true;
  5. @fig-x / @tbl-x / @sec-x (and [-@fig-x], [Fig @fig-x], @Fig-x) -> "Figure N" links;
  6. .appendix sections moved after the reference list, under an "Appendices" heading;
     a #refs div (with a "References" heading) is added when the text cites something;
  7. (HTML) "Source: notebook" links under embedded outputs.
Problems are collected and raised together as one error between <<LENSTOP and LENSTOP>>,
one per line, tab-separated: kind, key, message.
]]

local stringify = pandoc.utils.stringify

local FORMAT = "html"
local DOCDIR = "."
local META = nil
local errors = {}
local appendix_style_none = false
local NBSP = "\u{a0}"

local function fail(kind, key, message)
  table.insert(errors, kind .. "\t" .. key .. "\t" .. message)
end

local function meta_lookup(meta, dotted)
  local node = meta
  for part in string.gmatch(dotted, "[^%.]+") do
    if type(node) ~= "table" then return nil, false end
    local nxt = node[part]
    if nxt == nil then return nil, false end
    node = nxt
  end
  return node, true
end

local function meta_text(dotted, default)
  local value, found = meta_lookup(META, dotted)
  if not found or value == nil then return default end
  if type(value) == "boolean" then return tostring(value) end
  local s = stringify(value)
  if s == "" then return default end
  return s
end

local function has_class(el, cls)
  for _, c in ipairs(el.classes) do
    if c == cls then return true end
  end
  return false
end

-------------------------------------------------------------------------- 1. conditionals

local function format_matches(name)
  name = name:match("^%s*(.-)%s*$")
  if name == "html" or name == "html:js" or name == "html5" then return FORMAT == "html" end
  if name == "typst" then return FORMAT == "typst" end
  -- Quarto's aliases: "pdf"/"latex" mean LaTeX output, never Typst; other formats never match
  return false
end

local function meta_truthy(key)
  local value, found = meta_lookup(META, key)
  if not found then
    fail("meta", key, "when-meta/unless-meta refers to metadata key '" .. key ..
      "', which is not set (set it to true or false in the front matter, _quarto.yml or a " ..
      "metadata-files file)")
    return false
  end
  if type(value) ~= "boolean" then
    fail("meta", key, "when-meta/unless-meta key '" .. key .. "' must be a boolean (true or " ..
      "false), got '" .. stringify(value) .. "'")
    return false
  end
  return value
end

local function conditions_hold(el)
  local a = el.attributes
  for _, unsupported in ipairs({"when-profile", "unless-profile"}) do
    if a[unsupported] then
      fail("cond", unsupported, unsupported .. " is not supported by this renderer")
    end
  end
  local ok = true
  if a["when-format"] then ok = ok and format_matches(a["when-format"]) end
  if a["unless-format"] then ok = ok and not format_matches(a["unless-format"]) end
  if a["when-meta"] then ok = ok and meta_truthy(a["when-meta"]) end
  if a["unless-meta"] then ok = ok and not meta_truthy(a["unless-meta"]) end
  return ok
end

local function conditional(el)
  local visible_cls = has_class(el, "content-visible")
  local hidden_cls = has_class(el, "content-hidden")
  if not visible_cls and not hidden_cls then return nil end
  local hold = conditions_hold(el)
  local show = (visible_cls and hold) or (hidden_cls and not hold)
  if not show then
    return {}
  end
  if el.t == "CodeBlock" then
    el.classes = el.classes:filter(function(c)
      return c ~= "content-visible" and c ~= "content-hidden"
    end)
    for _, k in ipairs({"when-format", "unless-format", "when-meta", "unless-meta"}) do
      el.attributes[k] = nil
    end
    return el
  end
  return el.content
end

local conditional_filter = {
  traverse = "topdown",
  Div = conditional,
  Span = conditional,
  CodeBlock = conditional,
}

-------------------------------------------------------------------------- 2. figures/tables

local function is_caption_block(b)
  return b and (b.t == "Para" or b.t == "Plain")
end

local function fix_image(img)
  local src = img.src
  if src:match("^%a[%w+.-]*:") then
    if not src:match("^data:") then
      fail("image", src, "image '" .. src .. "' is remote; only local files can be embedded")
    end
  else
    -- pandoc percent-encodes destinations (spaces -> %20); the file system needs the real path
    src = src:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    if src:sub(1, 1) ~= "/" then
      src = DOCDIR .. "/" .. src
    end
    img.src = src
    local fh = io.open(src, "rb")
    if fh then fh:close() else
      fail("image", img.src, "image file '" .. src .. "' does not exist")
    end
  end
  local alt = img.attributes["fig-alt"]
  if alt then
    img.attributes["fig-alt"] = nil
    img.attributes["alt"] = alt
  end
  return img
end

-- The image blocks of a figure div: unwrap an implicit figure / a lone image paragraph.
local function figure_body(blocks)
  local out = pandoc.List()
  for _, b in ipairs(blocks) do
    if b.t == "Figure" then
      out:extend(b.content)
    elseif b.t == "Para" then
      out:insert(pandoc.Plain(b.content))
    else
      out:insert(b)
    end
  end
  return out
end

-- HTML outputs of notebook cells (pandas, great_tables) -> pandoc blocks. Their <style>
-- elements and wrapper divs are dropped (great_tables' CSS is not scoped to its table), and
-- tables lose their classes and inline styles, so the document's own style applies.
local drop_raw = {
  RawInline = function() return {} end,
  RawBlock = function() return {} end,
  Table = function(t)
    t.attr = pandoc.Attr(t.identifier, {}, {})
    return t
  end,
}

local function raw_html_to_blocks(blocks)
  local out = pandoc.List()
  for _, b in ipairs(blocks) do
    if b.t == "RawBlock" and (b.format == "html" or b.format == "html5") then
      local parsed = pandoc.read(b.text, "html").blocks:walk(drop_raw)
      parsed = parsed:walk({
        Div = function(d) return d.content end,
        Plain = function(p) if #p.content == 0 then return {} end end,
      })
      out:extend(parsed)
    else
      out:insert(b)
    end
  end
  return out
end

local function find_tables(blocks)
  local found = pandoc.List()
  pandoc.Blocks(blocks):walk({
    Table = function(t) found:insert(t) end,
  })
  return found
end

local function div_float(div)
  local id = div.identifier
  local is_fig = id:match("^fig%-") ~= nil
  local is_tbl = id:match("^tbl%-") ~= nil
  local embed = has_class(div, "lenstop-embed")
  if not is_fig and not is_tbl then
    if embed then
      return raw_html_to_blocks(div.content)  -- unnumbered embed
    end
    return nil
  end
  local blocks = pandoc.List(div.content)
  if embed then blocks = raw_html_to_blocks(blocks) end
  local caption = nil
  if #blocks > 1 and is_caption_block(blocks[#blocks]) then
    caption = blocks:remove(#blocks).content
  end
  local srcattrs = {}
  for k, v in pairs(div.attributes) do srcattrs[k] = v end
  if is_fig then
    local body = figure_body(blocks)
    if not caption then
      -- ::: {#fig-x} with a captioned image inside: take the image's caption
      for _, b in ipairs(blocks) do
        if b.t == "Figure" and #b.caption.long > 0 then
          caption = pandoc.utils.blocks_to_inlines(b.caption.long)
        end
      end
    end
    if not caption then
      fail("caption", id, "figure '" .. id .. "' has no caption (Quarto cross-references " ..
        "need one: the last paragraph of the div)")
      caption = {}
    end
    local classes = div.classes:filter(function(c) return c ~= "lenstop-embed" end)
    return pandoc.Figure(body, {pandoc.Plain(caption)},
      pandoc.Attr(id, classes, srcattrs))
  end
  local tables = find_tables(blocks)
  if #tables ~= 1 then
    fail("table", id, "table div '" .. id .. "' must contain exactly one table, found " ..
      #tables)
    return nil
  end
  local tbl = tables[1]
  if not caption then
    if #tbl.caption.long > 0 then
      caption = pandoc.utils.blocks_to_inlines(tbl.caption.long)
    else
      fail("caption", id, "table '" .. id .. "' has no caption (the last paragraph of the div)")
      caption = {}
    end
  end
  tbl.identifier = id
  tbl.caption.long = {pandoc.Plain(caption)}
  for k, v in pairs(srcattrs) do tbl.attributes[k] = v end
  -- keep blocks beside the table (e.g. pandas' "60 rows x 2 columns" note) in place
  for i, b in ipairs(blocks) do
    if b.t == "Table" then
      blocks[i] = tbl
      return blocks
    end
  end
  return tbl
end

local float_filter = {
  Div = div_float,
  Image = fix_image,
}

-------------------------------------------------------------------------- 3. callouts

local CALLOUT_KINDS = {note = "Note", warning = "Warning", important = "Important",
  tip = "Tip", caution = "Caution"}

local function typst_inlines(inlines)
  local text = pandoc.write(pandoc.Pandoc({pandoc.Plain(inlines)}), "typst")
  return (text:gsub("%s+$", ""))
end

local function callout(div)
  local kind = nil
  for _, c in ipairs(div.classes) do
    local k = c:match("^callout%-(%a+)$")
    if k and CALLOUT_KINDS[k] then kind = k end
  end
  if not kind then return nil end
  local content = pandoc.List(div.content)
  local title = nil
  if div.attributes["title"] then
    title = pandoc.utils.blocks_to_inlines(pandoc.read(div.attributes["title"], "markdown").blocks)
  elseif content[1] and content[1].t == "Header" then
    title = content:remove(1).content
  end
  if not title or #title == 0 then
    title = {pandoc.Str(meta_text("language.callout-" .. kind .. "-title", CALLOUT_KINDS[kind]))}
  end
  if FORMAT == "typst" then
    local blocks = pandoc.List({pandoc.RawBlock("typst",
      '#lenstop-callout(kind: "' .. kind .. '", title: [' .. typst_inlines(title) .. '])[')})
    blocks:extend(content)
    blocks:insert(pandoc.RawBlock("typst", "]"))
    return pandoc.Div(blocks, pandoc.Attr(div.identifier, {}, {}))
  end
  local head = pandoc.Div({pandoc.Plain(title)}, pandoc.Attr("", {"callout-title"}))
  local body = pandoc.Div(content, pandoc.Attr("", {"callout-body"}))
  return pandoc.Div({head, body},
    pandoc.Attr(div.identifier, {"callout", "callout-" .. kind}, {role = "note"}))
end

-------------------------------------------------------------------------- 4. numbering

local XREF_TYPES = {fig = true, tbl = true, sec = true, eq = true, lst = true, thm = true,
  lem = true, cor = true, prp = true, cnj = true, def = true, exm = true, exr = true,
  nte = true, wrn = true, imp = true, tip = true, cau = true}

local xref = {}

local function register(id, kind, num)
  if xref[id] then
    fail("dup", id, "the label '" .. id .. "' is used twice")
  end
  xref[id] = {kind = kind, num = num}
end

local function prefix_caption(long, prefix)
  local blocks = pandoc.List(long)
  local lead = {pandoc.Str(prefix), pandoc.Space()}
  if blocks[1] and (blocks[1].t == "Plain" or blocks[1].t == "Para") then
    local inl = pandoc.List(lead)
    inl:extend(blocks[1].content)
    blocks[1] = pandoc.Plain(inl)
  else
    blocks:insert(1, pandoc.Plain(lead))
  end
  return blocks
end

local function caption_title(kind)
  local default = kind == "fig" and "Figure" or "Table"
  return meta_text("crossref." .. kind .. "-title", default)
end

-- Number sections, figures and tables in source order (one top-down pass), prefix captions
-- ("Figure 1: ") and, with number-sections, headings.
local function number_elements(doc, number_sections)
  local delim = meta_text("crossref.title-delim", ":")
  local counters = {0, 0, 0, 0, 0, 0}
  local count = {fig = 0, tbl = 0}
  -- Number a figure or table whose id has the Quarto prefix `kind`, and prefix its caption.
  local function number_float(el, kind)
    if not el.identifier:match("^" .. kind .. "%-") then
      return nil
    end
    count[kind] = count[kind] + 1
    local num = tostring(count[kind])
    register(el.identifier, kind, num)
    el.caption.long = prefix_caption(el.caption.long, caption_title(kind) .. NBSP .. num .. delim)
    return el
  end
  return doc:walk({
    traverse = "topdown",
    Header = function(h)
      if has_class(h, "unnumbered") then
        if h.identifier:match("^sec%-") then
          fail("secref", h.identifier, "section '" .. h.identifier .. "' is unnumbered, so " ..
            "it cannot be cross-referenced")
        end
        return nil
      end
      counters[h.level] = counters[h.level] + 1
      for l = h.level + 1, 6 do counters[l] = 0 end
      local parts = {}
      local started = false
      for l = 1, h.level do
        if counters[l] ~= 0 or started or l == h.level then
          started = true
          table.insert(parts, tostring(counters[l]))
        end
      end
      local num = table.concat(parts, ".")
      if h.identifier:match("^sec%-") then register(h.identifier, "sec", num) end
      if number_sections then
        local inl = pandoc.List({pandoc.Span({pandoc.Str(num)},
          pandoc.Attr("", {"header-section-number"})), pandoc.Space()})
        inl:extend(h.content)
        h.content = inl
      end
      return h
    end,
    Figure = function(f) return number_float(f, "fig") end,
    Table = function(t) return number_float(t, "tbl") end,
  })
end

-------------------------------------------------------------------------- 5. references

local bib_citations = 0

local function xref_kind(id)
  local prefix = id:match("^(%a+)%-")
  if prefix and XREF_TYPES[prefix:lower()] then return prefix:lower() end
  return nil
end

local function ref_prefix(kind)
  local defaults = {fig = "Figure", tbl = "Table", sec = "Section"}
  return meta_text("crossref." .. kind .. "-prefix", defaults[kind] or kind)
end

local cite

cite = function(el)
  local n_x = 0
  for _, c in ipairs(el.citations) do
    if xref_kind(c.id) then n_x = n_x + 1 end
  end
  if n_x == 0 then
    bib_citations = bib_citations + #el.citations
    return nil
  end
  local first = el.citations[1]
  if n_x == 1 and xref_kind(first.id) and first.mode == "AuthorInText" and #el.citations > 1 then
    -- "@tbl-x [@key]": pandoc reads one group; split it into the reference and a citation
    local rest = pandoc.List()
    for i = 2, #el.citations do rest:insert(el.citations[i]) end
    local ref = cite(pandoc.Cite({pandoc.Str("@" .. first.id)}, {first}))
    bib_citations = bib_citations + #rest
    local out = pandoc.List(ref)
    out:insert(pandoc.Space())
    out:insert(pandoc.Cite({pandoc.Str("[citation]")}, rest))
    return out
  end
  if n_x ~= #el.citations then
    fail("mixed", el.citations[1].id, "a citation group mixes cross-references and " ..
      "bibliography keys (" .. stringify(el.content) .. "); write them separately")
    return nil
  end
  local out = pandoc.List()
  for i, c in ipairs(el.citations) do
    if i > 1 then out:extend({pandoc.Str(","), pandoc.Space()}) end
    local id = c.id:sub(1, 1):lower() .. c.id:sub(2)
    local x = xref[id]
    if not x then
      fail("xref", id, "unresolved cross-reference @" .. id .. " (no figure, table or " ..
        "section has the label #" .. id .. "; Quarto would print ?@" .. id .. ")")
      out:insert(pandoc.Str("?@" .. id))
    else
      local text = pandoc.List()
      if c.mode == "SuppressAuthor" then
        text:insert(pandoc.Str(x.num))
      elseif #c.prefix > 0 then
        text:extend(c.prefix)
        text:insert(pandoc.Str(NBSP .. x.num))
      else
        local p = ref_prefix(x.kind)
        if c.id:sub(1, 1):match("%u") then p = p:sub(1, 1):upper() .. p:sub(2) end
        text:insert(pandoc.Str(p .. NBSP .. x.num))
      end
      text:extend(c.suffix)
      out:insert(pandoc.Link(text, "#" .. id, "", pandoc.Attr("", {"quarto-xref"})))
    end
  end
  return out
end

-------------------------------------------------------------------------- 6. appendix + refs

local function has_refs_div(blocks)
  local found = false
  pandoc.Blocks(blocks):walk({
    Div = function(d) if d.identifier == "refs" then found = true end end,
  })
  return found
end

local function arrange_back_matter(doc)
  local main, appendix = pandoc.List(), pandoc.List()
  local in_appendix_level = nil
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" and not appendix_style_none then
      if has_class(b, "appendix") then
        in_appendix_level = b.level
      elseif in_appendix_level and b.level <= in_appendix_level then
        in_appendix_level = nil
      end
    end
    if in_appendix_level then appendix:insert(b) else main:insert(b) end
  end
  if (bib_citations > 0 or META["nocite"] ~= nil) and not has_refs_div(doc.blocks) then
    local title = meta_text("reference-section-title",
      meta_text("language.section-title-references", "References"))
    main:insert(pandoc.Header(1, title, pandoc.Attr("references", {"unnumbered"})))
    main:insert(pandoc.Div({}, pandoc.Attr("refs", {"references"})))
  end
  if #appendix > 0 then
    local title = meta_text("language.section-title-appendices", "Appendices")
    main:insert(pandoc.Header(1, title, pandoc.Attr("appendices", {"unnumbered"})))
    main:extend(appendix)
  end
  doc.blocks = main
  -- citeproc must not add its own heading
  doc.meta["reference-section-title"] = nil
  return doc
end

-------------------------------------------------------------------------- 7. source links

local function strip_source(el)
  local title = el.attributes["lenstop-source-title"]
  local href = el.attributes["lenstop-source-href"]
  el.attributes["lenstop-source-title"] = nil
  el.attributes["lenstop-source-href"] = nil
  if title and href and FORMAT == "html" then
    return {el, pandoc.Div({pandoc.Plain({pandoc.Str("Source:"), pandoc.Space(),
      pandoc.Link(title, href)})}, pandoc.Attr("", {"embed-source"}))}
  end
  return el
end

-------------------------------------------------------------------------- main

function Pandoc(doc)
  META = doc.meta
  FORMAT = stringify(doc.meta["lenstop-format"] or "html")
  DOCDIR = stringify(doc.meta["lenstop-docdir"] or ".")
  doc.meta["lenstop-format"] = nil
  doc.meta["lenstop-docdir"] = nil
  local style = meta_text("appendix-style", "default")
  appendix_style_none = (style == "none" or style == "false")

  doc = doc:walk(conditional_filter)
  doc = doc:walk(float_filter)
  doc = doc:walk({Div = callout})
  doc = number_elements(doc, META["number-sections"] == true)
  doc = doc:walk({Cite = cite})
  doc = arrange_back_matter(doc)
  doc = doc:walk({Figure = strip_source, Table = strip_source})
  if #errors > 0 then
    error("<<LENSTOP\n" .. table.concat(errors, "\n") .. "\nLENSTOP>>")
  end
  return doc
end
