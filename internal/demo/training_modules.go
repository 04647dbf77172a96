package demo

import "github.com/caregate/caregate/internal/training"

// demoModule is one demo training module and who it is for.
type demoModule struct {
	key            string // for the demo's rules and progress
	forEveryone    bool   // false: the Care Professional role only
	validityMonths int
	content        training.Content
}

func page(title, body string) training.PageInput { return training.PageInput{Title: title, Body: body} }

func question(prompt string, correct int, options ...string) training.QuestionInput {
	return training.QuestionInput{Prompt: prompt, Options: options, Correct: correct}
}

// demoModules are the eight modules of the demo region, written for it.
// Five are for everyone; reading the record, reporting incidents and audit
// are for the Care Professional role, which sees the whole record.
var demoModules = []demoModule{
	{key: "intro", forEveryone: true, content: training.Content{
		Title:   "Introduction to the shared care record",
		Summary: "What the shared care record is, where its information comes from and who can see what.",
		Pages: []training.PageInput{
			page("What the shared care record is", `The shared care record brings together information that health and social care
organisations in our area already hold about a person, so that the people caring for them can see it in one place.

It is **read-only**: you look at information in it, but you cannot change it. Each organisation keeps its own
records in its own systems, and the shared care record shows you a joined-up view of them.

## Why it matters

- A district nurse can see a patient's latest hospital discharge summary the day they get home.
- An emergency department doctor can see a patient's current medicines and allergies from their GP practice.
- A social worker can see who else is involved in a person's care before a home visit.

Seeing the same, current information saves repeated questions, avoids mistakes and helps people get safer care.`),
			page("Where the information comes from", `Information arrives in the record from the **providers' own systems**:

| Source | Examples of what it sends |
| --- | --- |
| GP practices | medicines, allergies, diagnoses, immunisations |
| Hospitals | admissions, discharge summaries, test results, clinic letters |
| Community and mental-health services | care plans, contacts, key workers |
| Adult social care | care packages, named social worker |

Each organisation decides what it shares under its **information sharing agreement**. If something is missing or looks
wrong, the record is not the place to fix it: the organisation that sent it must correct it at source. A later module
explains how to report a data problem.`),
			page("Who can see what", `Every person who uses the record has a **record role**, chosen by their site authoriser:

- **Care Professional** – sees the whole record.
- **Administrator** – sees demographics (name, address, contacts) and appointments only.

Access is personal. It is granted only when you have completed all of the training assigned to you, and it is for
**direct care** only: looking after the person in front of you, or on your caseload. Everything you open is recorded.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("Can you change information in the shared care record?", 1,
				"Yes, if you are a Care Professional", "No, it is read-only", "Only demographics"),
			question("You notice a patient's allergy is missing. Where must it be corrected?", 2,
				"In the shared care record", "By e-mailing the programme team", "In the system of the organisation that holds it"),
			question("What does the Administrator role see?", 0,
				"Demographics and appointments only", "The whole record", "Nothing until a Care Professional approves it"),
		},
	}},
	{key: "signin", forEveryone: true, content: training.Content{
		Title:   "Signing in and smartcards",
		Summary: "The ways to sign in to the record, keeping your log-in safe, and what to do if it goes wrong.",
		Pages: []training.PageInput{
			page("Your log-in details", `When your account is set up you receive **two separate e-mails**: one with your user name and one
with a one-time password. Some organisations send the password to a nominated person who passes it on to you securely.

The first time you sign in you choose your own password and set up **multi-factor authentication** (an authenticator
app on your phone that shows a six-digit code). You will be asked for a code each time you sign in.

- Choose a long password that you do not use anywhere else.
- Never write your password down next to your computer.
- Keep the recovery codes you are given somewhere safe: they let you in if you lose your phone.`),
			page("Signing in with a smartcard", `If you have an NHS smartcard you can sign in with it instead of a password. Insert the card,
enter your passcode, and the national identity service (NHS CIS2) confirms who you are. Your smartcard is linked to
your record account once; after that, the card is enough.

## Your smartcard is yours

- **Never lend it** to anyone, and never use someone else's – not even to "just look something up".
- **Take it with you** whenever you leave your workstation: removing the card locks the session.
- Report a lost or stolen card to your registration authority at once.

Anything done with your card is recorded as done by you.`),
			page("Opening the record from your own system", `Many organisations let you open the record straight from their own
clinical system. The patient you have open is passed across, so you land in their record without searching.

This is called **launching in context**. Your own system has already checked who you are, so you are not asked to
sign in again. The same rules apply: it is still you, and it is still only for the patient you are caring for.`),
			page("When something goes wrong", `- **Locked out** after too many wrong passwords: wait for the lock to end, or use a recovery code.
- **Lost phone**: sign in with a recovery code, then set up your authenticator again.
- **Forgotten password or lost codes**: contact your site authoriser or IT service desk. Nobody from the programme
  will ever ask you for your password.

Accounts not used for 90 days are deactivated automatically. Your authoriser can reactivate yours, and your completed
training is kept.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("A colleague has left their smartcard in the reader and you need to check a result quickly. What should you do?", 2,
				"Use it, as long as you tell them afterwards", "Use it only in an emergency", "Do not use it: sign in with your own details"),
			question("How do new users receive their user name and password?", 1,
				"Together in one e-mail", "In two separate messages", "By text message"),
			question("Someone phones saying they are from the programme team and asks for your password. What do you do?", 0,
				"Refuse: nobody from the programme will ask for it", "Give it if they know your user name", "Give it and then change it"),
			question("What happens to an account that has not been used for 90 days?", 3,
				"It is deleted with its training", "Nothing", "It is given to the back office", "It is deactivated; the authoriser can reactivate it"),
		},
	}},
	{key: "find", forEveryone: true, content: training.Content{
		Title:   "Finding a patient",
		Summary: "Searching by NHS number or by details, and making sure you have the right person.",
		Pages: []training.PageInput{
			page("Search by NHS number", `The most reliable way to find someone is their **NHS number**: ten digits, often written
as 3-3-4 (for example 943 476 5919). It stays the same for life and is unique to the person.

Take the number from a trusted source – your own system, a referral letter, the person's NHS app – rather than typing it
from memory.`),
			page("Search by details", `If you do not have the NHS number, search by **surname, date of birth and sex**, and add the
postcode or first name to narrow the results.

- Too many results? Add more details rather than scrolling through a long list.
- No results? Check the spelling, try a previous surname, or check the date of birth with the person.

Only search for people you are caring for. Every search is recorded, including searches that find nobody.`),
			page("Check you have the right person", `Before you rely on anything you read, **confirm the identity** with at least three
details: full name, date of birth, and address or NHS number – with the person, their carer or your own records.

Two people can share a name and date of birth. Acting on the wrong person's record (their medicines, their allergies)
can cause serious harm. If you are not sure, do not guess: close the record and check.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("What is the most reliable way to find a patient?", 0,
				"Their NHS number from a trusted source", "Their surname alone", "Their postcode"),
			question("How many identifying details should you confirm before relying on the record?", 2,
				"One", "Two", "At least three"),
			question("Are searches that find nobody recorded?", 1,
				"No, only records that are opened", "Yes, every search is recorded", "Only searches by NHS number"),
		},
	}},
	{key: "read", content: training.Content{
		Title:   "Reading the record",
		Summary: "How the record is laid out, what each section holds, and how current it is.",
		Pages: []training.PageInput{
			page("How the record is laid out", `A patient's record opens on a **summary**: demographics, key contacts, alerts, current
medicines and allergies. From there, sections hold the detail:

1. **Encounters** – admissions, clinic and community contacts.
2. **Medications** – current and past, with who prescribed them.
3. **Results** – pathology and radiology reports.
4. **Documents** – discharge summaries, letters and care plans.

Each entry shows the organisation it came from and when.`),
			page("Medicines, allergies and results", `The medicines list shows what was **prescribed**, which is not always what the
person takes. Always check with the person or their carer before acting on it.

Allergies recorded by one organisation appear for everyone. If you learn of a new allergy, record it in **your own
system** so that it is shared from there.

Results appear when the laboratory or department releases them. A result marked *provisional* may still change.`),
			page("How current is it?", `Information reaches the record from each source on its own timetable: some within minutes,
some overnight. The record shows when each source last sent data.

- Check the **date** of anything you rely on.
- A missing item does not mean it does not exist: the source may not share it, or may not have sent it yet.
- For urgent decisions, contact the team that holds the information.`),
			page("Sensitive information", `Some information is withheld from the record by law or by the source's choice – for example
certain sexual health, fertility and gender identity information. Other sensitive entries may be shown with a warning.

Treat everything you see as confidential. Read only what you need for the care you are giving, and never print or copy
information out of the record unless your organisation's procedures allow it.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("The medicines list shows a tablet the patient says they stopped last month. What is the best action?", 1,
				"Trust the record", "Check with the patient or carer and the prescriber before acting", "Delete it from the record"),
			question("A result is marked provisional. What does that mean?", 2,
				"It is final", "It was entered by a student", "It may still change"),
			question("You cannot find a recent hospital letter in the record. What can you conclude?", 0,
				"Nothing certain: it may not be shared or not sent yet", "It does not exist", "The hospital has lost it"),
			question("Where should you record a newly discovered allergy?", 3,
				"In the shared care record", "On a sticky note", "In an e-mail to the GP", "In your own organisation's system"),
		},
	}},
	{key: "ig", forEveryone: true, validityMonths: 12, content: training.Content{
		Title:   "Information governance and confidentiality",
		Summary: "Your duty of confidentiality, data protection in practice and keeping information secure. Renewed every year.",
		Pages: []training.PageInput{
			page("The duty of confidentiality", `Information people share with health and care services is given in confidence. The
**common law duty of confidentiality** means it may only be used or shared with the person's consent, where the law
requires it, or where there is an overriding public interest.

For **direct care**, sharing with the people caring for someone is expected and lawful: the person would reasonably
expect their nurse, doctor or social worker to see what is needed to look after them.`),
			page("Data protection in practice", `The UK GDPR and the Data Protection Act 2018 require personal data to be used
**lawfully, fairly and transparently**, for a clear purpose, and to be kept **accurate and secure**. Health information
is special category data and needs extra care.

The **Caldicott Principles** turn this into everyday questions:

- Can I justify the purpose?
- Do I need identifiable information at all?
- Am I using the minimum necessary?
- Is access on a strict need-to-know basis?
- Do I understand my responsibilities – and the law?`),
			page("Sharing for direct care", `The duty to share information can be as important as the duty to protect it: failing
to share can put people at risk.

- Share what is **relevant and necessary** for the person's care, with those who need it.
- The **national data opt-out** does not apply to direct care; it covers research and planning.
- If a person objects to their information being shared, respect that unless there is a legal reason not to, and
  record the decision.

If you are unsure, ask your information governance lead or data protection officer.`),
			page("Keeping information secure", `- Lock your screen (or remove your smartcard) whenever you step away.
- Do not look at records where others can read your screen.
- Never send patient information to a personal e-mail address or save it on a personal device.
- Use secure e-mail (such as NHSmail to NHSmail) for identifiable information.
- Report any loss or wrong disclosure straight away, even if it seems small.

This module is renewed **every year**: you will be reminded before your completion lapses.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("Does the national data opt-out stop information being shared for direct care?", 1,
				"Yes", "No, it covers research and planning", "Only for children"),
			question("Which is a Caldicott principle?", 0,
				"Use the minimum necessary personal confidential data", "Share everything to be safe", "Only doctors may access records"),
			question("You need to send a discharge summary to a colleague. Which is acceptable?", 2,
				"Your personal e-mail", "A messaging app on your phone", "Secure e-mail such as NHSmail to NHSmail"),
			question("You e-mailed a letter to the wrong person. What should you do?", 3,
				"Nothing if they promise to delete it", "Wait to see if anyone complains", "Tell the patient only", "Report it straight away"),
			question("When is sharing information for direct care lawful without explicit consent?", 1,
				"Never", "When it is relevant and necessary for the care the person would expect", "Whenever a colleague asks"),
		},
	}},
	{key: "use", forEveryone: true, content: training.Content{
		Title:   "Legitimate direct-care use and misuse",
		Summary: "When you may open a record, what counts as misuse, and what to do when you are not sure.",
		Pages: []training.PageInput{
			page("A legitimate relationship", `You may open someone's record only when you have a **legitimate care relationship**
with them: they are your patient or client now, on your caseload, referred to your team, or you are covering for a
colleague who cares for them.

Being able to open a record does not make it right to open it. The question is always: *do I need this to care for this
person today?*`),
			page("What counts as misuse", `Opening a record without a care reason is misuse, even if you only look and tell no one.
It includes looking at:

- **your own record** – ask your GP practice or use the NHS app instead;
- a **colleague's** record, even with their permission;
- a **family member's or friend's** record, even if they ask you to;
- a neighbour, a celebrity or someone in the news.

Misuse can lead to disciplinary action, loss of access, reporting to your professional regulator, and prosecution
under data protection law or the Computer Misuse Act.`),
			page("Grey areas and what to do", `- A relative is admitted to your ward: ask a colleague to care for them and do not open
  their record.
- You are asked to "just check" something for a friend: say no, and point them to their own care team.
- You opened the wrong record by mistake: close it, and tell your line manager so that the audit trail can be explained.

If you are unsure whether you should look, **don't** – ask first.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("Your mother asks you to check her latest blood test result. What do you do?", 2,
				"Look, since she has given permission", "Look, but do not tell anyone", "Decline and suggest she asks her GP or uses the NHS app"),
			question("May you look at your own record in the shared care record?", 1,
				"Yes, it is your information", "No, use your GP practice or the NHS app", "Only at weekends"),
			question("You opened the wrong patient's record by mistake. What should you do?", 0,
				"Close it and tell your line manager", "Keep quiet, it was a mistake", "Print it to show what happened"),
			question("Which of these is a legitimate reason to open a record?", 3,
				"Curiosity about a patient in the news", "A colleague's request about their own results", "Checking on a neighbour",
				"A patient on your caseload whom you are visiting today"),
		},
	}},
	{key: "incidents", content: training.Content{
		Title:   "Reporting incidents and data problems",
		Summary: "Recognising incidents and wrong or missing information, and how to report them.",
		Pages: []training.PageInput{
			page("What counts as an incident", `An **information governance incident** is anything that puts the confidentiality,
accuracy or availability of information at risk, for example:

- someone using another person's log-in or smartcard;
- a record opened without a care reason;
- patient information sent to the wrong place or left on view;
- a lost device or paper that holds patient information.

Report it even if you are not sure it matters: early reports limit harm.`),
			page("How to report", `1. Make the situation safe if you can (retrieve the paper, lock the screen).
2. Report it through **your own organisation's incident reporting system**.
3. Tell your line manager and your information governance lead.
4. If it involves the shared care record, your organisation will tell the programme team.

Do not try to investigate it yourself or contact the people involved.`),
			page("Wrong or missing information", `If information in the record is **wrong** (the wrong address, a medicine the person
never took) or **missing**, it must be corrected where it came from:

- contact the team or organisation shown as the source;
- if it may affect safety, say so clearly and follow up;
- record in your own notes what you found and whom you told.

Never rely on information you believe is wrong.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("Where do you report an information governance incident?", 1,
				"Only to the patient", "Through your organisation's incident reporting system", "Nowhere if nobody was harmed"),
			question("A patient's address in the record is out of date. Who corrects it?", 0,
				"The organisation that is the source of the information", "You, in the shared care record", "The patient, by logging in"),
			question("You find a printed clinic list left in a corridor. What comes first?", 2,
				"Find out who left it", "Photograph it as evidence", "Make it safe by retrieving it, then report it"),
		},
	}},
	{key: "audit", content: training.Content{
		Title:   "Audit and monitoring",
		Summary: "What the record keeps about your use of it, how misuse is detected and what happens next.",
		Pages: []training.PageInput{
			page("What is recorded", `Every time you use the record, an **audit trail** notes who you are, which patient you searched
for or opened, which sections you looked at, when, and from where. The trail is protected so that it cannot be altered
without it being noticed.

Patients have the right to ask who has looked at their record.`),
			page("How misuse is found", `Privacy officers use **forensic auditing**: regular checks of the audit trail that flag patterns
such as:

- staff looking at their own record;
- staff looking at a colleague's record, or at someone who shares their surname or address;
- records opened with no care relationship, or at unusual times and volumes.

A flag is not an accusation. It is checked, and most have a simple explanation.`),
			page("What happens next", `When a flag is not explained, the privacy officer investigates with your organisation. You may
be asked why you opened a record: a clear care reason, or a mistake you reported at the time, resolves most questions.

Confirmed misuse can lead to loss of access, disciplinary action, referral to your professional regulator and the
Information Commissioner, and in serious cases prosecution.`),
		},
		PassMark: 80,
		Questions: []training.QuestionInput{
			question("What does the audit trail record?", 2,
				"Only changes to records", "Nothing unless misuse is suspected", "Who searched for or opened which record, when and from where"),
			question("Can patients find out who has looked at their record?", 0,
				"Yes", "No", "Only with a court order"),
			question("A forensic audit flags you for opening a record that shares your surname. What is it?", 1,
				"Proof of misuse", "A prompt to check, which a care reason can explain", "An automatic dismissal"),
		},
	}},
}
