package plan

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Format is how a report is written: aligned text for a terminal, or markdown for a pull
// request comment or a docs page.
type Format int

const (
	Text Format = iota
	Markdown
)

// table is a report's table: a header and rows of cells.
type table struct {
	header []string
	rows   [][]string
	// right marks the columns aligned right in markdown (amounts).
	right map[int]bool
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write renders the table. Text pads columns with two spaces; markdown escapes pipes.
func (t *table) write(w io.Writer, f Format) error {
	if f == Markdown {
		var b strings.Builder
		row := func(cells []string) {
			b.WriteString("|")
			for _, c := range cells {
				b.WriteString(" " + mdCell(c) + " |")
			}
			b.WriteString("\n")
		}
		row(t.header)
		b.WriteString("|")
		for i := range t.header {
			if t.right[i] {
				b.WriteString(" ---: |")
			} else {
				b.WriteString(" --- |")
			}
		}
		b.WriteString("\n")
		for _, r := range t.rows {
			row(r)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

// heading writes a title: underlined in text, a markdown heading of the given level.
func heading(w io.Writer, f Format, level int, title string) {
	if f == Markdown {
		fmt.Fprintf(w, "%s %s\n\n", strings.Repeat("#", level), title)
		return
	}
	underline := "="
	if level > 1 {
		underline = "-"
	}
	fmt.Fprintf(w, "%s\n%s\n\n", title, strings.Repeat(underline, len([]rune(title))))
}

// para writes a paragraph.
func para(w io.Writer, text string) {
	fmt.Fprintln(w, text)
	fmt.Fprintln(w)
}

// code writes an identifier: backquoted in markdown.
func code(f Format, s string) string {
	if f == Markdown {
		return "`" + s + "`"
	}
	return s
}

// money formats dollars with cents and thousands separators: $1,814.67.
func money(v float64) string {
	neg := v < 0
	cents := int64(math.Round(math.Abs(v) * 100))
	whole, frac := cents/100, cents%100
	digits := fmt.Sprint(whole)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	s := fmt.Sprintf("$%s.%02d", b.String(), frac)
	if neg && cents != 0 {
		s = "-" + s
	}
	return s
}

// signedMoney formats a difference: +$3.65, −$9.06.
func signedMoney(v float64) string {
	if math.Round(v*100) < 0 {
		return "−" + money(-v)
	}
	return "+" + money(v)
}

// unitPrice formats a unit price with as many decimals as it needs: $0.018, $0.00146489.
func unitPrice(v float64) string {
	s := strings.TrimRight(fmt.Sprintf("%.8f", v), "0")
	if i := strings.Index(s, "."); i >= 0 && len(s)-i-1 < 2 {
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	return "$" + s
}

// quantity formats a quantity: 1,460 or 182.5.
func quantity(v float64) string {
	if v == math.Trunc(v) {
		s := strings.TrimPrefix(money(v), "$")
		return strings.TrimSuffix(s, ".00")
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
