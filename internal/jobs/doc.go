// Package jobs runs CareGate's durable background work on River, a job queue
// that keeps its jobs in our own database: SQLite through River's SQLite
// driver, PostgreSQL through its database/sql driver (with LISTEN/NOTIFY for
// prompt pick-up). A job is inserted in the same transaction as the change
// that causes it (InsertTx), so it exists if and only if the change
// committed; a job runs once even when several caregate processes share one
// PostgreSQL database, because each is claimed in the database
// (FOR UPDATE SKIP LOCKED) before it runs. Periodic work (Every) is
// scheduled by one elected leader among the processes.
//
// Other packages register their workers on the Runner before Start:
// Register for job kinds of their own, Every for periodic sweeps.
package jobs
