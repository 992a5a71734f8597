package watch

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key of the view; the help (?) lists them all.
type keyMap struct {
	Up, Down, Enter, Back        key.Binding
	Pause, Resume, Cancel, Retry key.Binding
	Filter, Help, Quit           key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Enter:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Pause:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Resume: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resume")),
		Cancel: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel (y/n)")),
		Retry:  key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "retry failed")),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:   key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:   key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line key hint under the view.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Enter, k.Pause, k.Resume, k.Cancel, k.Retry, k.Filter, k.Help, k.Quit}
}

// FullHelp is the help screen, a column per group.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Enter, k.Back},
		{k.Pause, k.Resume, k.Cancel, k.Retry},
		{k.Filter, k.Help, k.Quit},
	}
}
