package pack

// Waiters is how many callers wait for the preparation of version checksum
// of pack ref under way on s (0 when none is).
func Waiters(s *Service, ref, checksum string) int {
	s.loc.mu.Lock()
	defer s.loc.mu.Unlock()
	if f := s.loc.flights[ref+"/"+checksum]; f != nil {
		return f.waiters
	}
	return 0
}
