package training

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// clean trims c and checks it for saving as a draft. Publication needs at
// least one page as well (checked by Publish), so that an administrator can
// save a module while writing it.
func (c *Content) clean() error {
	var v errs.Validation
	c.Title = strings.TrimSpace(c.Title)
	line(&v, "title", "the title", c.Title, 200)
	c.Summary = strings.TrimSpace(c.Summary)
	prose(&v, "summary", "the summary", c.Summary, 1000)
	if len(c.Pages) > MaxPages {
		v.Add("pages", "A module may have at most %d pages", MaxPages)
	}
	for i := range c.Pages {
		pg := &c.Pages[i]
		pg.Title = strings.TrimSpace(pg.Title)
		line(&v, fmt.Sprintf("pages[%d].title", i), fmt.Sprintf("page %d's title", i+1), pg.Title, 200)
		pg.Body = strings.TrimSpace(strings.ReplaceAll(pg.Body, "\r\n", "\n"))
		prose(&v, fmt.Sprintf("pages[%d].body", i), fmt.Sprintf("page %d's text", i+1), pg.Body, MaxBodyChars)
	}
	if len(c.Questions) > MaxQuestions {
		v.Add("questions", "A knowledge check may have at most %d questions", MaxQuestions)
	}
	for i := range c.Questions {
		q := &c.Questions[i]
		f := fmt.Sprintf("questions[%d]", i)
		q.Prompt = strings.TrimSpace(q.Prompt)
		prose(&v, f+".prompt", fmt.Sprintf("the text of question %d", i+1), q.Prompt, 500)
		if len(q.Options) < 2 || len(q.Options) > MaxOptions {
			v.Add(f+".options", "Question %d needs between 2 and %d answers to choose from", i+1, MaxOptions)
		}
		seen := map[string]bool{}
		for j := range q.Options {
			q.Options[j] = strings.TrimSpace(q.Options[j])
			of := fmt.Sprintf("%s.options[%d]", f, j)
			line(&v, of, fmt.Sprintf("answer %d of question %d", j+1, i+1), q.Options[j], 300)
			k := strings.ToLower(q.Options[j])
			if k != "" && seen[k] && !v.Has(of) {
				v.Add(of, "Question %d offers the same answer twice", i+1)
			}
			seen[k] = true
		}
		if q.Correct < 0 || q.Correct >= len(q.Options) {
			v.Add(f+".correct", "Choose the right answer to question %d", i+1)
		}
	}
	switch {
	case len(c.Questions) > 0 && (c.PassMark < 1 || c.PassMark > 100):
		v.Add("pass_mark", "Give the pass mark as a percentage from 1 to 100")
	case len(c.Questions) == 0 && c.PassMark != 0:
		v.Add("pass_mark", "A module without questions has no pass mark: add questions or leave the pass mark at 0")
	}
	return v.Err()
}

// line checks a required one-line text; what names it ("the title").
func line(v *errs.Validation, field, what, s string, max int) {
	switch {
	case s == "":
		v.Add(field, "Enter %s", what)
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "%s must be %d characters or fewer", capitalise(what), max)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		v.Add(field, "%s must be one line of text", capitalise(what))
	}
}

// prose checks a required text of several lines. Markdown and angle
// brackets are allowed: what is shown is escaped or made safe when
// rendered. NUL and invalid UTF-8 are not (PostgreSQL refuses them).
func prose(v *errs.Validation, field, what, s string, max int) {
	switch {
	case s == "":
		v.Add(field, "Enter %s", what)
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "%s must be %d characters or fewer", capitalise(what), max)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		v.Add(field, "%s contains characters that cannot be shown", capitalise(what))
	}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// writeContent stores c as the given version of a module: inserting the
// version, or replacing a draft's content.
func writeContent(ctx context.Context, tx *store.Tx, moduleID string, version int, c *Content, by string, now int64, insert bool) error {
	if insert {
		if _, err := tx.Exec(ctx, `INSERT INTO training_module_versions (module_id, version, title, summary, pass_mark, page_count, question_count,
			created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			moduleID, version, c.Title, c.Summary, c.PassMark, len(c.Pages), len(c.Questions), by, now, now); err != nil {
			return errs.Wrap(err, "insert module version")
		}
	} else {
		// Only a draft is ever rewritten: published_at = 0 guards it.
		res, err := tx.Exec(ctx, `UPDATE training_module_versions SET title = ?, summary = ?, pass_mark = ?, page_count = ?, question_count = ?,
			updated_at = ? WHERE module_id = ? AND version = ? AND published_at = 0`,
			c.Title, c.Summary, c.PassMark, len(c.Pages), len(c.Questions), now, moduleID, version)
		if err != nil {
			return errs.Wrap(err, "update module version")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.Conflict, "This version has been published and can no longer be changed")
		}
		for _, t := range []string{"training_pages", "training_questions"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE module_id = ? AND version = ?`, moduleID, version); err != nil {
				return errs.Wrap(err, "replace draft content")
			}
		}
	}
	for i, pg := range c.Pages {
		if _, err := tx.Exec(ctx, `INSERT INTO training_pages (module_id, version, page_no, title, body) VALUES (?, ?, ?, ?, ?)`,
			moduleID, version, i+1, pg.Title, pg.Body); err != nil {
			return errs.Wrap(err, "insert page")
		}
	}
	for i, q := range c.Questions {
		opts, _ := json.Marshal(q.Options)
		if _, err := tx.Exec(ctx, `INSERT INTO training_questions (module_id, version, question_no, id, prompt, options, correct) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			moduleID, version, i+1, fmt.Sprintf("q%d", i+1), q.Prompt, string(opts), q.Correct); err != nil {
			return errs.Wrap(err, "insert question")
		}
	}
	return nil
}

// loadPages returns a version's pages in order, rendered.
func loadPages(ctx context.Context, q store.Querier, moduleID string, version int, withMarkdown bool) ([]Page, []string, error) {
	rows, err := q.Query(ctx, `SELECT page_no, title, body FROM training_pages WHERE module_id = ? AND version = ? ORDER BY page_no`, moduleID, version)
	if err != nil {
		return nil, nil, errs.Wrap(err, "load pages")
	}
	defer rows.Close()
	var out []Page
	var warnings []string
	for rows.Next() {
		var pg Page
		var body string
		if err := rows.Scan(&pg.Number, &pg.Title, &body); err != nil {
			return nil, nil, errs.Wrap(err, "scan page")
		}
		var w []string
		pg.HTML, w = RenderMarkdown(body)
		for _, m := range w {
			warnings = append(warnings, fmt.Sprintf("Page %d: %s", pg.Number, m))
		}
		if withMarkdown {
			pg.Markdown = body
		}
		out = append(out, pg)
	}
	return out, warnings, rows.Err()
}

// loadQuestions returns a version's questions in order, with their answers.
func loadQuestions(ctx context.Context, q store.Querier, moduleID string, version int) ([]Question, error) {
	rows, err := q.Query(ctx, `SELECT id, prompt, options, correct FROM training_questions WHERE module_id = ? AND version = ? ORDER BY question_no`,
		moduleID, version)
	if err != nil {
		return nil, errs.Wrap(err, "load questions")
	}
	defer rows.Close()
	var out []Question
	for rows.Next() {
		var qu Question
		var opts string
		if err := rows.Scan(&qu.ID, &qu.Prompt, &opts, &qu.Correct); err != nil {
			return nil, errs.Wrap(err, "scan question")
		}
		if err := json.Unmarshal([]byte(opts), &qu.Options); err != nil {
			return nil, errs.Wrap(err, "question options")
		}
		out = append(out, qu)
	}
	return out, rows.Err()
}
