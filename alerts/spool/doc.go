// Package spool is a bounded, durable, first-in first-out queue of records
// in a directory, used by the Kafka sink to keep alerts while the brokers
// are unreachable and to deliver them in order when they return, also
// across a restart of the sensor.
//
// The directory holds append-only segment files named by a sequence number
// (00000000000000000001.seg, ...) and a small cursor file naming the first
// undelivered record. Each record is framed as
//
//	length uint32 BE | CRC-32C of payload uint32 BE | payload
//	payload = flags byte | key length uvarint | key | value
//
// Delivery is at least once: the cursor is advanced after the consumer
// commits, so a crash between delivery and commit delivers a batch twice.
//
// The one gotcha: the bound (Options.MaxBytes) counts segment files, not
// records; a segment is deleted only once every record in it is committed,
// so a slow consumer of a large segment holds its whole size.
package spool
