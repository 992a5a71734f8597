package hotgoods

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/store"
)

// ErrNotFound is returned when no row or run has the id asked for.
var ErrNotFound = errors.New("hotgoods: not found")

// ParseDate reads a day as YYYY-MM-DD.
func ParseDate(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date %q: want YYYY-MM-DD", ErrInvalid, s)
	}
	return d, nil
}

const rowColumns = `id, run_date, segment_name, segment, goods_kind, priority, goods, message_template, channels,
	status, run_id, content_hash, created_at, updated_at`

// ImportResult says what an import changed.
type ImportResult struct {
	Date      string `json:"date"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
}

// Import stores a day's parsed rows in one transaction: a row already there
// with the same content is left alone (re-importing a file is a no-op), a
// pending row with other content is updated, a new one inserted. Once any
// row of the day was launched, nothing of the day may change (the launched
// runs resolve each member's row from the whole day): such rows are
// refused, every one named with its line, and nothing is stored. Rows of the
// day missing from the file are kept.
func Import(ctx context.Context, db *store.DB, date time.Time, rows []ParsedRow) (ImportResult, error) {
	res := ImportResult{Date: date.Format(time.DateOnly)}
	err := db.InTx(ctx, func(tx store.Handler) error {
		res = ImportResult{Date: res.Date}
		existing, err := dayRows(ctx, tx, date, true)
		if err != nil {
			return err
		}
		byKey := map[string]*Row{}
		var launchedBy *uint64
		for i := range existing {
			r := &existing[i]
			byKey[r.Segment+"\x00"+string(r.GoodsKind)] = r
			if r.Launched() && launchedBy == nil {
				launchedBy = r.RunID
			}
		}
		var refused []LineError
		for _, in := range rows {
			hash := in.hash()
			cur := byKey[in.Segment+"\x00"+string(in.GoodsKind)]
			switch {
			case cur != nil && cur.Hash == hash:
				res.Unchanged++
			case launchedBy != nil:
				what := "a new row"
				if cur != nil {
					what = "a change of this row"
				}
				refused = append(refused, LineError{Line: in.Line, Field: "segment", Reason: fmt.Sprintf(
					"%s for %s: run %d already launched rows of this day, whose members are resolved against every row of it", what, res.Date, *launchedBy)})
			case cur != nil:
				if err := updateRow(ctx, tx, cur.ID, in.Input, hash); err != nil {
					return err
				}
				res.Updated++
			default:
				if err := insertRow(ctx, tx, date, in.Input, hash); err != nil {
					return err
				}
				res.Added++
			}
		}
		if len(refused) > 0 {
			return &FileError{Problems: refused}
		}
		return nil
	})
	return res, err
}

func encodeRow(in Input) (filter, goods []byte, channels string) {
	goods, _ = json.Marshal(in.Goods)
	names := make([]string, len(in.Channels))
	for i, c := range in.Channels {
		names[i] = string(c)
	}
	return in.Filter.JSON(), goods, strings.Join(names, ",")
}

func insertRow(ctx context.Context, tx store.Handler, date time.Time, in Input, hash string) error {
	filter, goods, channels := encodeRow(in)
	_, err := tx.ExecContext(ctx, `INSERT INTO hot_goods_crontab (segment_name, segment, goods_kind, priority, goods,
		message_template, channels, run_date, status, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
		in.Segment, string(filter), in.GoodsKind, in.Priority, string(goods), strings.TrimSpace(in.Template), channels,
		date.Format(time.DateOnly), hash)
	if err != nil {
		return fmt.Errorf("hotgoods: insert %s/%s: %w", in.Segment, in.GoodsKind, store.MapError(err))
	}
	return nil
}

func updateRow(ctx context.Context, tx store.Handler, id uint64, in Input, hash string) error {
	filter, goods, channels := encodeRow(in)
	_, err := tx.ExecContext(ctx, `UPDATE hot_goods_crontab SET segment = ?, priority = ?, goods = ?, message_template = ?,
		channels = ?, content_hash = ? WHERE id = ? AND run_id IS NULL`,
		string(filter), in.Priority, string(goods), strings.TrimSpace(in.Template), channels, hash, id)
	if err != nil {
		return fmt.Errorf("hotgoods: update row %d: %w", id, store.MapError(err))
	}
	return nil
}

// dayRows loads a day's rows in id order (locked for update when lock).
func dayRows(ctx context.Context, h store.Handler, date time.Time, lock bool) ([]Row, error) {
	q := `SELECT ` + rowColumns + ` FROM hot_goods_crontab WHERE run_date = ? ORDER BY id`
	if lock {
		q += ` FOR UPDATE`
	}
	var out []Row
	if err := h.SelectContext(ctx, &out, q, date.Format(time.DateOnly)); err != nil {
		return nil, fmt.Errorf("hotgoods: rows of %s: %w", date.Format(time.DateOnly), store.MapError(err))
	}
	for i := range out {
		if err := out[i].decode(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// List returns a day's rows in id order.
func List(ctx context.Context, h store.Handler, date time.Time) ([]Row, error) {
	return dayRows(ctx, h, date, false)
}

// Get loads one row.
func Get(ctx context.Context, h store.Handler, id uint64) (*Row, error) {
	var r Row
	err := h.GetContext(ctx, &r, `SELECT `+rowColumns+` FROM hot_goods_crontab WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: row %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("hotgoods: load row %d: %w", id, store.MapError(err))
	}
	return &r, r.decode()
}
