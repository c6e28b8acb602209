/* an_flame.c: the call tree as one self-contained SVG flamegraph. Frames are drawn by
 * this file (so the picture needs no script, and image viewers show it); a small
 * inline script adds click-to-zoom, search with the matched share, reset, and keeps
 * zoom and search in the URL. Every name from the trace is cleaned to UTF-8 and
 * escaped for XML; the script reads names only from the DOM, never from code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define WIDTH 1200.0
#define PAD 10.0
#define ROW 17
#define MIN_PX 0.3 /* frames narrower than this are left out (their bytes stay in the parent) */

static void xml(FILE *out, const char *s, size_t n) { an_xml(out, s, n); }
static void xmls(FILE *out, const char *s) { an_xml(out, s, strlen(s)); }

/* ---- source lines, for the hover text: each file read once, when it is readable ---- */
typedef struct source {
    uint32_t file;     /* string id */
    char *text;        /* NULL: unreadable */
    size_t len;
} source;

typedef struct sources {
    source *s;
    size_t n, cap;
} sources;

static const source *source_of(sources *ss, const an_defs *d, uint32_t file)
{
    for (size_t i = 0; i < ss->n; i++)
        if (ss->s[i].file == file)
            return &ss->s[i];
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 16;
        source *g = realloc(ss->s, cap * sizeof *g);
        if (!g)
            return NULL;
        ss->s = g;
        ss->cap = cap;
    }
    source *src = &ss->s[ss->n++];
    *src = (source){file, NULL, 0};
    size_t n;
    const char *path = an_defs_string(d, file, &n);
    FILE *f = path[0] && strlen(path) == n ? fopen(path, "rb") : NULL; /* no NUL inside */
    if (f) {
        src->text = malloc(8u << 20);
        src->len = src->text ? fread(src->text, 1, (8u << 20) - 1, f) : 0;
        fclose(f);
    }
    return src;
}

/* Line number line of a source (1-based), stripped of indentation; NULL if none. */
static const char *source_line(const source *src, uint32_t line, size_t *len)
{
    if (!src || !src->text || line == 0)
        return NULL;
    const char *p = src->text, *end = src->text + src->len;
    for (uint32_t l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *len = (size_t)((nl ? nl : end) - p);
    if (*len > 200)
        *len = 200;
    return p < end ? p : NULL;
}

/* ---- colours: Python warm, native blue, no stack grey; deeper red for bigger frames ---- */
static void colour(char *buf, size_t cap, const an_defs *d, uint32_t func, double share)
{
    if (!func) {
        snprintf(buf, cap, "rgb(190,190,190)");
        return;
    }
    size_t n;
    const char *file = an_defs_string(d, d->func[func].file, &n);
    int python = n >= 3 && (!memcmp(file + n - 3, ".py", 3) || file[0] == '<');
    int g = (int)(230 - 150 * share), b = (int)(60 + 40 * (1 - share));
    if (python)
        snprintf(buf, cap, "rgb(245,%d,%d)", g < 80 ? 80 : g, b);
    else
        snprintf(buf, cap, "rgb(%d,%d,240)", 90 + (int)(80 * (1 - share)), 140 + (int)(60 * (1 - share)));
}

static void frame(FILE *out, const an_tree *t, const an_defs *d, sources *ss, uint32_t id,
                  double x, double w, int rows, const an_flame_opts *o)
{
    const an_tnode *nd = &t->node[id];
    char a[32], b[32], fill[40];
    double share = t->node[0].bytes ? (double)nd->bytes / (double)t->node[0].bytes : 0;
    int y = o->reversed ? 60 + (int)nd->depth * ROW : 60 + (rows - (int)nd->depth) * ROW;
    size_t n, fn_len, file_len;
    const char *fn = id == 0 ? "all" : nd->func ? an_defs_string(d, d->func[nd->func].name, &fn_len)
                                                : "[no Python stack]";
    if (id == 0 || !nd->func)
        fn_len = strlen(fn);
    const char *file = nd->func ? an_defs_string(d, d->func[nd->func].file, &file_len) : "";
    if (!nd->func)
        file_len = 0;
    fprintf(out, "<g class=\"f\" id=\"f%u\" data-x=\"%.9f\" data-w=\"%.9f\" data-d=\"%u\" "
            "data-b=\"%llu\" data-l=\"", id, (x - PAD) / (WIDTH - 2 * PAD),
            w / (WIDTH - 2 * PAD), nd->depth, (unsigned long long)nd->bytes);
    /* The label: "file.py:7 function", the file by its base name; a job's process
     * frame has no file, only its name. */
    int has_line = nd->func && (nd->line || file_len);
    const char *base = file_len ? memrchr(file, '/', file_len) : NULL;
    size_t base_skip = base ? (size_t)(base + 1 - file) : 0;
    char where[40] = "";
    if (has_line) {
        xml(out, file + base_skip, file_len - base_skip);
        snprintf(where, sizeof where, ":%u ", nd->line);
        fputs(where, out);
    }
    xml(out, fn, fn_len);
    /* data-n: what search matches, the hover's first line (not its sizes or source
     * line: a caller's source names the functions it calls) */
    fputs("\" data-n=\"", out);
    xml(out, fn, fn_len);
    if (file_len) {
        fputs(" (", out);
        xml(out, file, file_len);
        fprintf(out, ":%u)", nd->line);
    }
    fputs("\"><title>", out);
    xml(out, fn, fn_len);
    if (file_len) {
        fputs(" (", out);
        xml(out, file, file_len);
        fprintf(out, ":%u)", nd->line);
    }
    fprintf(out, "\n%s (%s bytes), %.2f%%, %s blocks", an_human(nd->bytes, a, sizeof a),
            an_commas(nd->bytes, b, sizeof b), 100 * share,
            an_commas(nd->blocks, fill, sizeof fill));
    if (nd->var > 0) /* sampled: the estimate's 95% bound */
        fprintf(out, "\nestimated from a sample: \u00b1 %s (95%%)",
                an_human(an_bound95(nd->var), a, sizeof a));
    const char *src = file_len ? source_line(source_of(ss, d, d->func[nd->func].file), nd->line, &n)
                               : NULL;
    if (src && n) {
        fputs("\n", out);
        xml(out, src, n);
    }
    colour(fill, sizeof fill, d, nd->func, share);
    fprintf(out, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
            "rx=\"2\"/><text x=\"%.2f\" y=\"%d\">", x, y, w, ROW - 1, id ? fill : "rgb(220,220,220)",
            x + 3, y + ROW - 5);
    /* The label as data-l has it, cut to fit at about 7 px a character (12 px font). */
    size_t fit = w > 20 ? (size_t)((w - 6) / 7) : 0;
    size_t nb = has_line ? file_len - base_skip : 0, nw = strlen(where);
    if (fit >= 3) {
        size_t all = nb + nw + fn_len, room = all > fit ? fit - 2 : all;
        size_t kb = nb < room ? nb : room, kw = nw < room - kb ? nw : room - kb;
        xml(out, file + base_skip, kb);
        fwrite(where, 1, kw, out);
        xml(out, fn, fn_len < room - kb - kw ? fn_len : room - kb - kw);
        if (all > fit)
            fputs("..", out);
    }
    fputs("</text></g>\n", out);
}

/* The script: zoom, search (of data-n), reset, URL state. It reads only data-* attributes. */
static const char script[] =
    "var W=1200,P=10,fs=[].slice.call(document.querySelectorAll('g.f')),zoomed=null;\n"
    "function num(g,k){return parseFloat(g.getAttribute('data-'+k));}\n"
    "function place(){var zx=0,zw=1,zd=0;if(zoomed){zx=num(zoomed,'x');zw=num(zoomed,'w');zd=num(zoomed,'d');}\n"
    " fs.forEach(function(g){var x=num(g,'x'),w=num(g,'w'),d=num(g,'d'),r=g.querySelector('rect'),t=g.querySelector('text');\n"
    "  var inside=x>=zx-1e-12&&x+w<=zx+zw+1e-12&&d>=zd, above=d<zd&&x<=zx+1e-12&&x+w>=zx+zw-1e-12;\n"
    "  if(!inside&&!above){g.style.display='none';return;}\n"
    "  g.style.display='';var nx=above?P:P+(x-zx)/zw*(W-2*P),nw=above?W-2*P:w/zw*(W-2*P);\n"
    "  r.setAttribute('x',nx);r.setAttribute('width',Math.max(nw,0.1));g.style.opacity=above?0.6:1;\n"
    "  var name=g.getAttribute('data-l');\n"
    "  var fit=Math.floor((nw-6)/7);t.setAttribute('x',nx+3);\n"
    "  t.textContent=fit<3?'':(name.length>fit?name.slice(0,fit-2)+'..':name);});\n"
    " document.getElementById('reset').style.display=zoomed?'':'none';}\n"
    "function state(){var q=[];if(zoomed)q.push('x='+zoomed.id);var s=document.getElementById('term').value;\n"
    " if(s)q.push('s='+encodeURIComponent(s));try{history.replaceState(null,'',q.length?'?'+q.join('&'):location.pathname);}catch(e){}}\n"
    "function zoom(g){zoomed=g&&num(g,'d')>0?g:null;place();state();}\n"
    "function search(term){var total=num(fs[0],'b'),hit=0,top=[];term=(term||'').toLowerCase();\n"
    " fs.forEach(function(g){var m=term&&g.getAttribute('data-n').toLowerCase().indexOf(term)>=0;\n"
    "  g.querySelector('rect').style.fill=m?'rgb(230,0,230)':'';g.classList.toggle('hit',!!m);\n"
    "  if(m&&!top.some(function(a){var ax=num(a,'x'),aw=num(a,'w'),gx=num(g,'x');return num(a,'d')<num(g,'d')&&gx>=ax&&gx<ax+aw;}))top.push(g);});\n"
    " top.forEach(function(g){hit+=num(g,'b');});var el=document.getElementById('matched');\n"
    " el.textContent=term?'matched: '+(total?(100*hit/total).toFixed(2):'0.00')+'%':'';el.setAttribute('data-matched',term?(total?100*hit/total:0):'');state();}\n"
    "fs.forEach(function(g){g.addEventListener('click',function(e){zoom(g);e.stopPropagation();});});\n"
    "document.getElementById('reset').addEventListener('click',function(){zoom(null);});\n"
    "var box=document.getElementById('term');box.addEventListener('input',function(){search(box.value);});\n"
    "(function(){var q=new URLSearchParams(location.search);var x=q.get('x'),s=q.get('s');\n"
    " if(s){box.value=s;search(s);}if(x&&document.getElementById(x))zoom(document.getElementById(x));else place();\n"
    " if(document.documentElement.getAttribute('data-reversed')!=='1')window.scrollTo(0,1e9);})();\n";

/* Whether a node is wide enough to draw. A child holds no more bytes than its parent, so
 * a node that passes has every ancestor drawn too. */
static int drawn(const an_tree *t, uint32_t id, double scale)
{
    return id == 0 || (double)t->node[id].bytes * scale >= MIN_PX;
}

/* The depth of the deepest frame drawn: the picture is that many rows (plus the root)
 * high, with no blank rows for frames left out. */
static uint32_t drawn_rows(const an_tree *t, double scale)
{
    uint32_t rows = 0;
    for (uint32_t i = 0; i < t->n; i++)
        if (t->node[i].depth > rows && drawn(t, i, scale))
            rows = t->node[i].depth;
    return rows;
}

int an_flame_svg(FILE *out, const an_tree *t, const an_defs *d, const an_flame_opts *o)
{
    uint32_t *kids, *first;
    if (an_tree_children(t, &kids, &first))
        return -1;
    double scale = t->node[0].bytes ? (WIDTH - 2 * PAD) / (double)t->node[0].bytes : 0;
    uint32_t rows = drawn_rows(t, scale);
    int height = 60 + ((int)rows + 1) * ROW + 30;
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" data-total=\"%llu\" data-reversed=\"%d\">\n<style>\n"
            "text{font:12px Verdana,sans-serif;fill:#000;pointer-events:none}\n"
            "g.f{cursor:pointer} g.f:hover rect{stroke:#000;stroke-width:0.5}\n"
            "#title{font-size:17px;text-anchor:middle} #sub{font-size:12px;fill:#555;text-anchor:middle}\n"
            "#reset,#matched{font-size:12px} #reset{cursor:pointer;fill:#06c;pointer-events:all}\n"
            "</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n",
            (int)WIDTH, height, (int)WIDTH, height, (unsigned long long)t->node[0].bytes,
            o->reversed);
    fprintf(out, "<text id=\"title\" x=\"%d\" y=\"22\">", (int)(WIDTH / 2));
    xmls(out, o->title);
    fprintf(out, "</text>\n<text id=\"sub\" x=\"%d\" y=\"40\">", (int)(WIDTH / 2));
    xmls(out, o->subtitle);
    fprintf(out, "</text>\n<text id=\"reset\" x=\"%d\" y=\"22\" style=\"display:none\">Reset zoom"
            "</text>\n<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"></text>\n"
            "<foreignObject x=\"%d\" y=\"6\" width=\"220\" height=\"26\"><input "
            "xmlns=\"http://www.w3.org/1999/xhtml\" id=\"term\" placeholder=\"search\" "
            "style=\"width:200px;font:12px sans-serif\"/></foreignObject>\n",
            (int)PAD, (int)(WIDTH - PAD), height - 10, (int)(WIDTH - 230));
    /* Lay out depth first: each child gets its share of its parent's width, largest on the
     * left. A stack of (node, x) pairs stands in for recursion (trees can be 8192 deep). */
    uint32_t *stack = malloc((t->n + 1) * sizeof *stack);
    double *xs = malloc((t->n + 1) * sizeof *xs);
    sources ss = {NULL, 0, 0};
    int rc = -1;
    if (!stack || !xs)
        goto done;
    size_t sp = 0;
    stack[sp] = 0;
    xs[sp++] = PAD;
    while (sp) {
        sp--;
        uint32_t id = stack[sp];
        if (!drawn(t, id, scale))
            continue;
        double x = xs[sp], w = (double)t->node[id].bytes * scale;
        frame(out, t, d, &ss, id, x, w, (int)rows, o);
        double cx = x + w;
        for (uint32_t k = first[id + 1]; k > first[id]; k--) { /* push right to left */
            uint32_t c = kids[k - 1];
            cx -= (double)t->node[c].bytes * scale;
            stack[sp] = c;
            xs[sp++] = cx;
        }
        /* children are left-aligned: shift them so the largest starts at x */
        double shift = x - cx;
        for (size_t j = sp - (first[id + 1] - first[id]); j < sp; j++)
            xs[j] += shift;
    }
    fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n</svg>\n", script);
    rc = ferror(out) ? -1 : 0;
done:
    for (size_t i = 0; i < ss.n; i++)
        free(ss.s[i].text);
    free(ss.s);
    free(stack);
    free(xs);
    free(kids);
    free(first);
    return rc;
}
