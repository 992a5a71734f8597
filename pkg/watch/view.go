package watch

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"mkt/pkg/campaign"
	"mkt/pkg/schedule"
)

// MinWidth and MinHeight are the terminal size of the full view; below it
// the view shows the essentials.
const (
	MinWidth  = 80
	MinHeight = 24
)

var (
	styleBold   = lipgloss.NewStyle().Bold(true)
	styleDim    = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
	styleSel    = lipgloss.NewStyle().Reverse(true)
	styleErr    = lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true)
	styleOK     = lipgloss.NewStyle().Foreground(lipgloss.Color("10"))
	styleStatus = map[campaign.Status]lipgloss.Style{
		campaign.StatusRunning:   lipgloss.NewStyle().Foreground(lipgloss.Color("12")),
		campaign.StatusPlanning:  lipgloss.NewStyle().Foreground(lipgloss.Color("14")),
		campaign.StatusPaused:    lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
		campaign.StatusCompleted: lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		campaign.StatusCancelled: lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		campaign.StatusFailed:    lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
	}
)

// shardGlyphs draw heatmap cells: each status has a glyph of its own, so the
// map reads without colour (NO_COLOR, monochrome terminals) and a colour
// where the terminal has them.
var shardGlyphs = map[campaign.ShardStatus]struct {
	glyph string
	style lipgloss.Style
}{
	campaign.ShardDone:      {"#", lipgloss.NewStyle().Foreground(lipgloss.Color("2"))},
	campaign.ShardRunning:   {">", lipgloss.NewStyle().Foreground(lipgloss.Color("12")).Bold(true)},
	campaign.ShardPaused:    {"=", lipgloss.NewStyle().Foreground(lipgloss.Color("11"))},
	campaign.ShardPending:   {".", lipgloss.NewStyle().Foreground(lipgloss.Color("8"))},
	campaign.ShardFailed:    {"X", lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true)},
	campaign.ShardCancelled: {"-", lipgloss.NewStyle().Foreground(lipgloss.Color("8"))},
}

// layout is how the screen's rows are shared.
type layout struct {
	compact              bool
	list                 bool // the run list is shown (all runs, nothing drilled into)
	listRows             int
	heatRows, heatWidth  int
	workerRows, failRows int
	failures             bool
}

// detailLines is the panel's fixed lines: title, progress, pace and
// deliveries, deliveries by channel, heatmap title and legend (a status
// reason takes one more).
const detailLines = 6

func (m Model) layout() layout {
	l := layout{compact: m.width < MinWidth || m.height < MinHeight, heatWidth: max(m.width-2, 10)}
	if l.compact {
		return l
	}
	l.list = m.cfg.Target.All() && m.focus.ID == 0
	l.failures = !l.list
	used := 1 + 2 + detailLines // header, footer, panel
	if r, ok := m.focusRun(); ok && r.StatusReason != "" {
		used++
	}
	if l.list {
		l.listRows = min(max(len(m.visible()), 1), max(3, (m.height-3)/4))
		used += 1 + l.listRows
		if len(m.snap.Upcoming) > 0 {
			used++
		}
	}
	l.workerRows = min(max(len(m.snap.Workers), 1), 3)
	if !l.list {
		l.workerRows = min(max(len(m.snap.Workers), 1), 5)
	}
	used += 1 + l.workerRows
	if l.failures {
		l.failRows = 3
		if m.snap.Detail != nil {
			l.failRows = min(max(len(m.snap.Detail.Failures.Reasons), 1), 5)
		}
		used += 1 + l.failRows
	}
	l.heatRows = max(m.height-used, 1)
	return l
}

// heatCapacity is the most heatmap cells the layout can draw.
func (m Model) heatCapacity() int {
	l := m.layout()
	if l.compact {
		return 0
	}
	return l.heatRows * l.heatWidth
}

// View draws the model.
func (m Model) View() string {
	if m.showHelp {
		return m.helpView()
	}
	l := m.layout()
	if l.compact {
		return m.compactView()
	}
	var lines []string
	lines = append(lines, m.header())
	if l.list {
		if len(m.snap.Upcoming) > 0 {
			lines = append(lines, m.upcomingLine())
		}
		lines = append(lines, m.listLines(l)...)
	}
	if run, ok := m.focusRun(); ok {
		lines = append(lines, m.panel(run, l)...)
	} else if !l.list {
		lines = append(lines, styleDim.Render("  "+m.focusTarget().String()+": waiting for the first refresh"))
	}
	for len(lines) < m.height-2 {
		lines = append(lines, "")
	}
	lines = append(lines[:m.height-2], m.statusLine(), m.help.ShortHelpView(m.keys.ShortHelp()))
	return m.fit(lines)
}

// fit cuts every line to the width and the lines to the height.
func (m Model) fit(lines []string) string {
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	for i, s := range lines {
		lines[i] = ansi.Truncate(s, m.width, "…")
	}
	return strings.Join(lines, "\n")
}

func (m Model) header() string {
	what := "all campaigns"
	if !m.cfg.Target.All() {
		what = m.cfg.Target.String()
	}
	left := styleBold.Render("mktctl watch") + " · " + what
	if m.cfg.Target.All() {
		left += fmt.Sprintf(" (%d)", len(m.snap.Runs))
		if l := m.layout(); l.list && len(m.visible()) > l.listRows {
			first := max(m.selected-l.listRows+1, 0)
			left += fmt.Sprintf(" · %d–%d shown", first+1, first+l.listRows)
		}
		if q := m.filter.Value(); q != "" {
			left += fmt.Sprintf(" · filter %q", q)
		}
	}
	right := "refresh " + m.cfg.Refresh.String()
	if !m.lastTry.IsZero() {
		right = "last refresh " + m.lastTry.Format("15:04:05") + " · every " + m.cfg.Refresh.String()
	}
	return spread(left, right, m.width)
}

// upcomingLine lists the next schedule firings, each in its schedule's
// zone and relative to the snapshot.
func (m Model) upcomingLine() string {
	parts := make([]string, len(m.snap.Upcoming))
	for i, u := range m.snap.Upcoming {
		at := u.FireAt
		if loc, err := schedule.LoadZone(u.Zone); err == nil {
			at = at.In(loc)
		}
		parts[i] = fmt.Sprintf("schedule %d %s %s (in %s)", u.ScheduleID, u.Does, at.Format("Mon 15:04 MST"),
			dur(max(u.FireAt.Sub(m.snap.At), 0)))
	}
	return styleDim.Render("next firings: " + strings.Join(parts, " · "))
}

// spread puts left and right on one line of width w.
func spread(left, right string, w int) string {
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left + " " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

// cols are the run list's column widths for width w; the name takes what
// is left.
type cols struct{ ref, name, status, bar, pct, rate, eta int }

func listCols(w int) cols {
	c := cols{ref: 14, status: 10, bar: max(10, w/8), pct: 7, rate: 11, eta: 9}
	c.name = max(w-2-c.ref-c.status-c.bar-c.pct-c.rate-c.eta-6, 8)
	return c
}

func (m Model) listLines(l layout) []string {
	c := listCols(m.width)
	head := "  " + pad("CAMPAIGN", c.ref) + " " + pad("NAME", c.name) + " " + pad("STATUS", c.status) + " " +
		pad("PROGRESS", c.bar+c.pct) + " " + padLeft("MEMBERS/S", c.rate) + " " + padLeft("ETA", c.eta)
	lines := []string{styleBold.Render(head)}
	vs := m.visible()
	if len(vs) == 0 {
		msg := "  no campaign is planning, running or paused, and none finished in the last hour"
		if m.filter.Value() != "" {
			msg = "  no campaign matches the filter"
		}
		return append(lines, styleDim.Render(msg))
	}
	first := 0
	if m.selected >= l.listRows {
		first = m.selected - l.listRows + 1
	}
	for i := first; i < len(vs) && i < first+l.listRows; i++ {
		r := vs[i]
		marker := "  "
		if i == m.selected {
			marker = "> "
		}
		row := marker + pad(r.Ref(), c.ref) + " " + pad(campaign.Printable(r.Name), c.name) + " " +
			statusStyle(r.Status).Render(pad(string(r.Status), c.status)) + " " +
			bar(r.Percent, c.bar) + padLeft(fmt.Sprintf("%.1f%%", r.Percent), c.pct) + " " +
			padLeft(rateText(r), c.rate) + " " + padLeft(etaText(r), c.eta)
		if i == m.selected {
			row = styleSel.Render(ansi.Strip(row))
		}
		lines = append(lines, row)
	}
	return lines
}

// panel is the focused run: title, why it stopped, progress, pace and
// deliveries, the heatmap, the workers and, when drilled into, failures.
func (m Model) panel(r Run, l layout) []string {
	w := m.width
	title := styleBold.Render(r.Ref()) + " · " + campaign.Printable(r.Name) + " · " +
		statusStyle(r.Status).Render(campaign.DisplayStatus(r.Status, r.Progress.Running))
	if l.list {
		title = styleDim.Render("── ") + title
	}
	lines := []string{title}
	if r.StatusReason != "" {
		lines = append(lines, statusStyle(r.Status).Render("reason: "+campaign.Printable(r.StatusReason)))
	}
	barW := max(w-40, 10)
	lines = append(lines,
		bar(r.Percent, barW)+fmt.Sprintf(" %5.1f%%  %s / %s members", r.Percent, num(r.Processed), num(r.Progress.Expected)),
		fmt.Sprintf("rate %s · ETA %s · elapsed %s · sent %s · failed %s", rateText(r), etaText(r),
			dur(time.Duration(r.ElapsedSeconds*float64(time.Second))), num(r.Progress.Sent), num(r.Progress.FailedN)),
		channelLine(r))
	lines = append(lines, heatmapLines(r, l)...)
	lines = append(lines, m.workerLines(l)...)
	if l.failures {
		lines = append(lines, m.failureLines(r, l)...)
	}
	return lines
}

// channelLine is the deliveries per channel, from the live counters.
func channelLine(r Run) string {
	switch {
	case r.Live != nil && len(r.Live.Channels) > 0:
		var parts []string
		for _, c := range r.Live.Channels {
			parts = append(parts, fmt.Sprintf("%s %s/%s", c.Channel, num(c.Sent), num(c.Failed)))
		}
		return "sent/failed by channel: " + strings.Join(parts, " · ")
	case r.LiveError != "":
		return styleDim.Render("by channel: live counters unreadable")
	}
	return styleDim.Render("by channel: no live counters")
}

func heatmapLines(r Run, l layout) []string {
	h, p := r.Heatmap, r.Progress
	title := fmt.Sprintf("shards %s: %s done, %s running, %s pending", num(int64(p.Shards)),
		num(int64(p.Done)), num(int64(p.Running)), num(int64(p.Pending)))
	for _, x := range []struct {
		n    int
		what string
	}{{p.Paused, "paused"}, {p.Failed, "failed"}, {p.Cancelled, "cancelled"}} {
		if x.n > 0 {
			title += fmt.Sprintf(", %s %s", num(int64(x.n)), x.what)
		}
	}
	legend := ""
	for _, s := range []campaign.ShardStatus{campaign.ShardDone, campaign.ShardRunning, campaign.ShardPaused,
		campaign.ShardPending, campaign.ShardFailed, campaign.ShardCancelled} {
		g := shardGlyphs[s]
		legend += g.style.Render(g.glyph) + " " + string(s) + "  "
	}
	if h == nil || h.Shards == 0 {
		out := []string{title, legend}
		if p.Shards == 0 {
			out[0] = "shards: none planned yet"
		}
		for range l.heatRows {
			out = append(out, "")
		}
		return out
	}
	if h.PerCell > 1 {
		legend += fmt.Sprintf("cell = %s shards", num(int64(h.PerCell)))
	} else {
		legend += "cell = 1 shard"
	}
	out := []string{title, legend}
	for row := range l.heatRows {
		lo := row * l.heatWidth
		if lo >= len(h.Cells) {
			out = append(out, "")
			continue
		}
		var b strings.Builder
		b.WriteString("  ")
		for _, st := range h.Cells[lo:min(lo+l.heatWidth, len(h.Cells))] {
			g, ok := shardGlyphs[st]
			if !ok {
				b.WriteString(" ")
				continue
			}
			b.WriteString(g.style.Render(g.glyph))
		}
		out = append(out, b.String())
	}
	if shown := l.heatRows * l.heatWidth; len(h.Cells) > shown {
		out[0] += styleDim.Render(fmt.Sprintf(" (%d cells cut: resize)", len(h.Cells)-shown))
	}
	return out
}

func (m Model) workerLines(l layout) []string {
	ws := m.snap.Workers
	nameW := min(max(m.width-2-8-12-16, 20), 60)
	head := styleBold.Render(pad(fmt.Sprintf("workers (%d)", len(ws)), 2+nameW)+padLeft("SHARDS", 8)+
		padLeft("MEMBERS/S", 12)) + styleDim.Render("  LEASES EXPIRED")
	if len(ws) == 0 {
		out := []string{head, styleDim.Render("  no worker holds a shard")}
		for i := 1; i < l.workerRows; i++ {
			out = append(out, "")
		}
		return out
	}
	out := []string{head}
	for i, w := range ws {
		if i == l.workerRows {
			break
		}
		if i == l.workerRows-1 && len(ws) > l.workerRows {
			out = append(out, styleDim.Render(fmt.Sprintf("  … and %d more workers", len(ws)-i)))
			break
		}
		owner := campaign.Printable(w.Owner)
		if owner == "" {
			owner = "(released, awaiting republish)"
		}
		line := "  " + pad(owner, nameW) + padLeft(num(int64(w.Shards)), 8) + padLeft(num(int64(w.Rate))+"/s", 12)
		if w.Expired > 0 {
			line = styleErr.Render(line + padLeft(num(int64(w.Expired))+" EXPIRED", 16))
		}
		out = append(out, line)
	}
	for len(out) < 1+l.workerRows {
		out = append(out, "")
	}
	return out
}

func (m Model) failureLines(r Run, l layout) []string {
	if r.Progress.FailedN == 0 || m.snap.Detail == nil || len(m.snap.Detail.Failures.Reasons) == 0 {
		out := []string{styleBold.Render("failures") + "  " + styleDim.Render("none")}
		for range l.failRows {
			out = append(out, "")
		}
		return out
	}
	fs := m.snap.Detail.Failures
	head := styleBold.Render("top failure reasons")
	if fs.Sampled < r.Progress.FailedN {
		head += styleDim.Render(fmt.Sprintf("  (from the first %s of %s failed deliveries)", num(fs.Sampled), num(r.Progress.FailedN)))
	}
	out := []string{head}
	for i, f := range fs.Reasons {
		if i == l.failRows {
			break
		}
		out = append(out, "  "+padLeft(num(f.Count), 10)+"  "+pad(f.Channel, 6)+" "+campaign.Printable(f.Reason))
	}
	for len(out) < 1+l.failRows {
		out = append(out, "")
	}
	return out
}

func (m Model) statusLine() string {
	switch {
	case m.confirm != nil:
		return styleErr.Render(fmt.Sprintf("cancel %s %q? nothing more will be sent. y/n", m.confirm.Key(), campaign.Printable(m.confirm.Name)))
	case m.filterOn:
		return m.filter.View() + styleDim.Render("  enter keeps · esc clears")
	}
	var parts []string
	if !m.mysqlDown.IsZero() {
		parts = append(parts, styleErr.Render("MySQL unreachable since "+m.mysqlDown.Format("15:04:05")+", retrying"))
	}
	if !m.redisDown.IsZero() {
		parts = append(parts, styleErr.Render("Redis unreachable since "+m.redisDown.Format("15:04:05")+", retrying (no live counters)"))
	}
	if m.status != "" {
		if m.statusOK {
			parts = append(parts, styleOK.Render(m.status))
		} else {
			parts = append(parts, styleErr.Render(m.status))
		}
	}
	if len(parts) == 0 {
		if m.lastTry.IsZero() {
			return styleDim.Render("reading…")
		}
		return styleDim.Render("ok")
	}
	return strings.Join(parts, " · ")
}

func (m Model) compactView() string {
	lines := []string{fmt.Sprintf("mktctl watch · %d×%d (the full view needs %d×%d)", m.width, m.height, MinWidth, MinHeight)}
	for _, r := range m.visible() {
		lines = append(lines, fmt.Sprintf("%s %s %.1f%% %s ETA %s", r.Ref(), statusStyle(r.Status).Render(string(r.Status)),
			r.Percent, rateText(r), etaText(r)))
	}
	if m.height >= 2 {
		if len(lines) >= m.height {
			lines = lines[:m.height-1]
		}
		for len(lines) < m.height-1 {
			lines = append(lines, "")
		}
		lines = append(lines, m.statusLine())
	}
	return m.fit(lines)
}

func (m Model) helpView() string {
	lines := []string{styleBold.Render("mktctl watch — keys"), ""}
	lines = append(lines, strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n")...)
	lines = append(lines, "",
		"↑/↓ select a campaign, enter opens it (failure reasons), esc goes back;",
		"/ filters the list by name. p, r, c and f act on the selected campaign",
		"with the code of mktctl campaign pause|resume|cancel|retry-failed",
		"(coupon pushes: mktctl coupon pause|resume|retry-failed); the outcome",
		"shows in the status line. Heatmap cells: # done  > running  = paused",
		". pending  X failed  - cancelled; a cell holding several shards shows",
		"the most urgent of them.",
		"", styleDim.Render("any key closes this help"))
	return m.fit(lines)
}

func statusStyle(s campaign.Status) lipgloss.Style {
	if st, ok := styleStatus[s]; ok {
		return st
	}
	return lipgloss.NewStyle()
}

// bar draws a progress bar of width w at pct (0..100) with the bubbles
// progress bar's static rendering (no animation).
func bar(pct float64, w int) string {
	p := progress.New(progress.WithoutPercentage(), progress.WithWidth(w),
		progress.WithSolidFill("12"), progress.WithColorProfile(lipgloss.ColorProfile()))
	return p.ViewAs(min(max(pct/100, 0), 1))
}

func rateText(r Run) string {
	if r.Status != campaign.StatusRunning {
		return "-"
	}
	return num(int64(r.Rate)) + "/s"
}

func etaText(r Run) string {
	if r.ETASeconds == nil {
		return "-"
	}
	return dur(time.Duration(*r.ETASeconds * float64(time.Second)))
}

// dur prints a duration to the second: 45s, 3m04s, 2h05m.
func dur(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// numbers writes integers with thousands separators (golang.org/x/text
// rather than a hand-written grouping).
var numbers = message.NewPrinter(language.English)

// num prints n with thousands separators.
func num(n int64) string { return numbers.Sprint(n) }

// pad cuts or pads s to w cells.
func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// padLeft right-aligns s in w cells.
func padLeft(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	return strings.Repeat(" ", max(w-ansi.StringWidth(s), 0)) + s
}
