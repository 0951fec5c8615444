package jobs

import (
	"context"
	"errors"
	"fmt"

	"appkernel/jobs/internal/broker"
)

// ListDead returns up to limit jobs of the dead set of queue (DefaultQueue
// when empty), the most recently dead first, skipping offset.
func (c *Client) ListDead(ctx context.Context, queue string, offset, limit int) ([]Info, error) {
	if err := c.ok(); err != nil {
		return nil, err
	}
	if queue == "" {
		queue = DefaultQueue
	}
	if offset < 0 || limit < 1 {
		return nil, fmt.Errorf("jobs: ListDead needs offset >= 0 and limit >= 1 (got %d, %d)", offset, limit)
	}
	ids, hashes, err := c.b.Dead(ctx, queue, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("jobs: list dead jobs of %s: %w", queue, unavailable(err))
	}
	out := make([]Info, 0, len(ids))
	for i, id := range ids {
		if len(hashes[i]) > 0 {
			out = append(out, infoFromHash(id, queue, hashes[i]))
		}
	}
	return out, nil
}

// RetryDead moves dead job id back to pending with its attempts reset.
// It returns ErrNotFound when the job is not in the dead set, and
// ErrDuplicate when the job was enqueued with a unique key that another
// job holds now (the job then stays dead).
func (c *Client) RetryDead(ctx context.Context, id string) error {
	return c.deadOp(ctx, id, "retry", c.retryDead)
}

// DeleteDead removes dead job id for good. It returns ErrNotFound when the
// job is not in the dead set.
func (c *Client) DeleteDead(ctx context.Context, id string) error {
	return c.deadOp(ctx, id, "delete", c.deleteDead)
}

func (c *Client) retryDead(ctx context.Context, q, id string) (bool, error) {
	ok, holder, err := c.b.RetryDead(ctx, q, id)
	if err == nil && holder != "" {
		return false, fmt.Errorf("%w: job %s holds its unique key", ErrDuplicate, holder)
	}
	return ok, err
}

func (c *Client) deleteDead(ctx context.Context, q, id string) (bool, error) {
	return c.b.DeleteDead(ctx, q, id)
}

func (c *Client) deadOp(ctx context.Context, id, what string, op func(ctx context.Context, q, id string) (bool, error)) error {
	if err := c.ok(); err != nil {
		return err
	}
	_, q, err := c.b.Get(ctx, id)
	if errors.Is(err, broker.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("jobs: %s dead job %s: %w", what, id, unavailable(err))
	}
	done, err := op(ctx, q, id)
	if err != nil {
		return fmt.Errorf("jobs: %s dead job %s: %w", what, id, unavailable(err))
	}
	if !done {
		return fmt.Errorf("%w: %s is not dead", ErrNotFound, id)
	}
	return nil
}
