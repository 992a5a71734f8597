package watch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/campaign"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// Limits of the refresh period.
const (
	DefaultRefresh = time.Second
	MinRefresh     = 200 * time.Millisecond
)

// Config configures a Model.
type Config struct {
	// Fetch reads a snapshot (Source.Fetch); it runs inside tea.Cmds.
	Fetch func(ctx context.Context, req Request) Snapshot
	// Control runs a control action on a run and returns the outcome for
	// the status line; it is the code behind `mktctl campaign ACTION`.
	Control func(ctx context.Context, run Target, a campaign.Action) (string, error)
	// Target is the run watched (zero: every run).
	Target Target
	// Refresh is the refresh period (default DefaultRefresh).
	Refresh time.Duration
	// ExitWhenDone quits once every watched run has finished.
	ExitWhenDone bool
}

// Messages.
type (
	tickMsg     struct{}
	snapshotMsg Snapshot
	controlMsg  struct {
		run    Target
		action campaign.Action
		out    string
		err    error
	}
)

// Model is the live view. Update applies messages; View draws the model and
// does no I/O.
type Model struct {
	cfg  Config
	keys keyMap
	help help.Model

	width, height int

	snap     Snapshot // the last snapshot read with MySQL up
	lastTry  time.Time
	fetching bool
	rates    Rates
	// mysqlDown and redisDown are when the dependency was first seen
	// unreachable (zero: it is fine); the errors are the latest.
	mysqlDown, redisDown time.Time
	mysqlErr, redisErr   string

	selected int    // index into visible()
	focus    Target // the drilled-into run (detail mode), zero in the list
	filter   textinput.Model
	filterOn bool

	confirm  *Run // a run awaiting y/n to cancel
	showHelp bool
	status   string
	statusOK bool
	done     bool
}

// New returns a model for cfg.
func New(cfg Config) Model {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	ti := textinput.New()
	ti.Prompt = "/"
	ti.CharLimit = 64
	m := Model{cfg: cfg, keys: newKeyMap(), help: help.New(), filter: ti, width: 80, height: 24}
	if !cfg.Target.All() {
		m.focus = cfg.Target
	}
	return m
}

// Init starts the first fetch and the refresh clock.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.fetchCmd(), m.tickCmd())
}

func (m Model) tickCmd() tea.Cmd {
	return tea.Tick(m.cfg.Refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

// request is what the next fetch reads, for the current layout.
func (m Model) request() Request {
	l := m.layout()
	return Request{Focus: m.focusTarget(), Cells: m.heatCapacity(), Failures: l.failures}
}

func (m *Model) fetchCmd() tea.Cmd {
	if m.cfg.Fetch == nil {
		return nil
	}
	m.fetching = true
	req, fetch := m.request(), m.cfg.Fetch
	return func() tea.Msg { return snapshotMsg(fetch(context.Background(), req)) }
}

// Update applies a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case tickMsg:
		var cmd tea.Cmd
		if !m.fetching {
			cmd = m.fetchCmd()
		}
		return m, tea.Batch(cmd, m.tickCmd())
	case snapshotMsg:
		m.apply(Snapshot(msg))
		if m.done {
			return m, tea.Quit
		}
		return m, nil
	case controlMsg:
		ref := msg.run.String()
		if msg.err != nil {
			m.status, m.statusOK = fmt.Sprintf("%s %s: %v", msg.action, ref, msg.err), false
		} else {
			m.status, m.statusOK = msg.out, true
		}
		var cmd tea.Cmd
		if !m.fetching {
			cmd = m.fetchCmd()
		}
		return m, cmd
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// apply takes a fetched snapshot in.
func (m *Model) apply(s Snapshot) {
	m.fetching = false
	m.lastTry = s.At
	if s.RedisError != "" {
		if m.redisDown.IsZero() {
			m.redisDown = s.At
		}
		m.redisErr = s.RedisError
	} else if s.MySQLError == "" {
		m.redisDown, m.redisErr = time.Time{}, ""
	}
	if s.MySQLError != "" {
		if m.mysqlDown.IsZero() {
			m.mysqlDown = s.At
		}
		m.mysqlErr = s.MySQLError
		return
	}
	m.mysqlDown, m.mysqlErr = time.Time{}, ""
	m.rates.Apply(&s)
	m.snap = s
	if n := len(m.visible()); m.selected >= n {
		m.selected = max(n-1, 0)
	}
	if m.cfg.ExitWhenDone && s.Finished() {
		m.done = true
	}
}

// visible is the snapshot's runs that pass the filter.
func (m Model) visible() []Run {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	if q == "" {
		return m.snap.Runs
	}
	var out []Run
	for _, r := range m.snap.Runs {
		if strings.Contains(strings.ToLower(r.Name), q) {
			out = append(out, r)
		}
	}
	return out
}

// focusTarget is the run the panel shows: the drilled-into or watched run,
// else the selected one.
func (m Model) focusTarget() Target {
	if m.focus.ID != 0 {
		return m.focus
	}
	if vs := m.visible(); m.selected < len(vs) {
		return vs[m.selected].Key()
	}
	return Target{}
}

// focusRun is the focused run in the snapshot, if present.
func (m Model) focusRun() (Run, bool) {
	t := m.focusTarget()
	for _, r := range m.snap.Runs {
		if r.Key() == t {
			return r, true
		}
	}
	return Run{}, false
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	if m.confirm != nil {
		run := *m.confirm
		m.confirm = nil
		if msg.String() == "y" || msg.String() == "Y" {
			return m, m.controlCmd(run, campaign.ActionCancel)
		}
		m.status, m.statusOK = "cancel of "+run.Key().String()+" abandoned", true
		return m, nil
	}
	if m.filterOn {
		switch msg.Type {
		case tea.KeyEnter:
			m.filterOn = false
			m.filter.Blur()
			return m, nil
		case tea.KeyEsc:
			m.filterOn = false
			m.filter.Blur()
			m.filter.SetValue("")
			return m, nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.selected = 0
		return m, cmd
	}
	if m.showHelp {
		if key.Matches(msg, m.keys.Quit) {
			return m, tea.Quit
		}
		m.showHelp = false // any key closes the help
		return m, nil
	}
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Help):
		m.showHelp = true
	case key.Matches(msg, m.keys.Up):
		if m.cfg.Target.All() && m.focus.ID == 0 && m.selected > 0 {
			m.selected--
		}
	case key.Matches(msg, m.keys.Down):
		if m.cfg.Target.All() && m.focus.ID == 0 && m.selected < len(m.visible())-1 {
			m.selected++
		}
	case key.Matches(msg, m.keys.Enter):
		if vs := m.visible(); m.cfg.Target.All() && m.selected < len(vs) {
			m.focus = vs[m.selected].Key()
			return m, m.refreshNow()
		}
	case key.Matches(msg, m.keys.Back):
		switch {
		case m.cfg.Target.All() && m.focus.ID != 0:
			m.focus = Target{}
			return m, m.refreshNow()
		case m.filter.Value() != "":
			m.filter.SetValue("")
		default:
			m.status = ""
		}
	case key.Matches(msg, m.keys.Filter):
		if m.cfg.Target.All() && m.focus.ID == 0 {
			m.filterOn = true
			return m, m.filter.Focus()
		}
	case key.Matches(msg, m.keys.Pause), key.Matches(msg, m.keys.Resume),
		key.Matches(msg, m.keys.Cancel), key.Matches(msg, m.keys.Retry):
		run, ok := m.focusRun()
		if !ok {
			m.status, m.statusOK = "no campaign selected", false
			return m, nil
		}
		switch {
		case key.Matches(msg, m.keys.Pause):
			return m, m.controlCmd(run, campaign.ActionPause)
		case key.Matches(msg, m.keys.Resume):
			return m, m.controlCmd(run, campaign.ActionResume)
		case key.Matches(msg, m.keys.Retry):
			return m, m.controlCmd(run, campaign.ActionRetryFailed)
		}
		m.confirm = &run
	}
	return m, nil
}

// refreshNow fetches at once (a new focus needs its heatmap).
func (m *Model) refreshNow() tea.Cmd {
	if m.fetching {
		return nil
	}
	return m.fetchCmd()
}

func (m *Model) controlCmd(run Run, a campaign.Action) tea.Cmd {
	if m.cfg.Control == nil {
		return nil
	}
	m.status, m.statusOK = fmt.Sprintf("%s %s…", a, run.Key()), true
	ctl, t := m.cfg.Control, run.Key()
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := ctl(ctx, t, a)
		return controlMsg{run: t, action: a, out: out, err: err}
	}
}
