// Package org owns partner organisations and their sites (teams and
// services), and the appointment of site authorisers and service-desk staff.
// Programme administrators manage them; every change is audited in the same
// transaction.
package org
