package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// Sentinel errors MapError produces; test with errors.Is. The driver's
// original error stays in the chain (errors.As to *mysql.MySQLError works).
var (
	// ErrNotFound means a query expected a row and found none (sql.ErrNoRows).
	ErrNotFound = errors.New("store: not found")
	// ErrDuplicate means a unique or primary key was violated (MySQL error 1062).
	ErrDuplicate = errors.New("store: duplicate key")
	// ErrDeadlock means the transaction was chosen as a deadlock victim (1213)
	// or timed out waiting for a row lock (1205); the whole transaction may be
	// retried. See Retryable.
	ErrDeadlock = errors.New("store: deadlock or lock wait timeout")
	// ErrInvalidData means the server rejected a value: out of range,
	// truncated, not in an ENUM, NULL in a NOT NULL column, or a CHECK
	// constraint failed.
	ErrInvalidData = errors.New("store: invalid data")
	// ErrLocalInfileDisabled means LOAD DATA LOCAL INFILE is disabled on the
	// server or the client (MySQL 8 disables it by default).
	ErrLocalInfileDisabled = errors.New("store: LOAD DATA LOCAL INFILE disabled")
)

// MySQL and MariaDB server error numbers MapError recognises.
const (
	errNumDuplicate          = 1062 // ER_DUP_ENTRY
	errNumDuplicateUnique    = 1586 // ER_DUP_ENTRY_WITH_KEY_NAME
	errNumLockWaitTimeout    = 1205 // ER_LOCK_WAIT_TIMEOUT
	errNumDeadlock           = 1213 // ER_LOCK_DEADLOCK
	errNumBadNull            = 1048 // ER_BAD_NULL_ERROR
	errNumTruncated          = 1265 // WARN_DATA_TRUNCATED (strict mode error)
	errNumOutOfRange         = 1264 // ER_WARN_DATA_OUT_OF_RANGE
	errNumIncorrectValue     = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	errNumDataTooLong        = 1406 // ER_DATA_TOO_LONG
	errNumCheckMySQL         = 3819 // ER_CHECK_CONSTRAINT_VIOLATED (MySQL 8)
	errNumCheckMariaDB       = 4025 // ER_CONSTRAINT_FAILED (MariaDB)
	errNumNotAllowedCommand  = 1148 // ER_NOT_ALLOWED_COMMAND (LOCAL INFILE off, MariaDB / MySQL 5.7)
	errNumLocalFilesDisabled = 3948 // ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8)
	errNumInfileCapability   = 4166 // ER_LOAD_INFILE_CAPABILITY_DISABLED (MariaDB 10.5+)
)

// MapError translates a driver error into one wrapping the matching sentinel
// and the original error. nil stays nil, already-mapped errors and errors
// with no sentinel are returned unchanged.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrNotFound, ErrDuplicate, ErrDeadlock, ErrInvalidData, ErrLocalInfileDisabled} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	var sentinel error
	switch me.Number {
	case errNumDuplicate, errNumDuplicateUnique:
		sentinel = ErrDuplicate
	case errNumDeadlock, errNumLockWaitTimeout:
		sentinel = ErrDeadlock
	case errNumBadNull, errNumTruncated, errNumOutOfRange, errNumIncorrectValue,
		errNumDataTooLong, errNumCheckMySQL, errNumCheckMariaDB:
		sentinel = ErrInvalidData
	case errNumNotAllowedCommand, errNumLocalFilesDisabled, errNumInfileCapability:
		sentinel = ErrLocalInfileDisabled
	default:
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// Retryable reports whether err (mapped or not) is a transient conflict after
// which the whole transaction may be run again.
func Retryable(err error) bool {
	return errors.Is(MapError(err), ErrDeadlock)
}
