--[[
typst_tables.lua - runs AFTER citeproc, Typst output only. Pandoc 3.9 wraps every table in
`#figure(align(center)[#table(...)], kind: table)`; pandoc 3.6 (Quarto 1.7) writes the bare
`#table(...)`, which Quarto's own float figure then holds. Write them as Quarto does, so that
tables break across pages and stay out of Typst's table counter the same way.
]]

function Table(tbl)
  local text = pandoc.write(pandoc.Pandoc({tbl}),
    {format = "typst", extensions = PANDOC_WRITER_OPTIONS.extensions}, {wrap_text = "none"})
  local inner = text:match("^%s*#figure%(%s*align%(center%)%[(.*)%]%s*,%s*kind:%s*table%s*%)%s*$")
  if not inner then
    error("<<LENSTOP\ninternal\ttable\tunexpected Typst table output from pandoc: " ..
      text:sub(1, 80):gsub("\n", " ") .. "\nLENSTOP>>")
  end
  return pandoc.RawBlock("typst", inner)
end
