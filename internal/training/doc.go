// Package training owns the training portal's domain: modules with
// versioned Markdown content and an optional knowledge check, the rules
// that assign them to members by organisation, job category and record
// role, members' page-by-page progress, retakes and completions, refresher
// reminders and lapses, the reports authorisers and programme
// administrators read, and the completion gate: when a member completes the
// last mandatory module assigned to them, their new-user access request is
// raised (package access) in the same transaction, once.
//
// Who may call what:
//   - programme administrators manage modules (CreateModule, EditContent,
//     UpdateSettings, Publish, DiscardDraft, Retire, Preview, Versions) and
//     rules (AddRule, RemoveRule), and read every report;
//   - a member reads and works through their own assigned modules
//     (MyTraining, MyModule, Page, CompletePage, Check, SubmitCheck, Retake);
//   - a site's authorisers read its members' progress (SiteProgress,
//     MemberTraining);
//   - the record asks AccessAllowed; the job runner calls Sweep hourly.
//
// Assignments are computed when read (see assign.go), so a rule change
// applies at once. Page content is rendered to HTML when read, safely (see
// markdown.go).
package training
