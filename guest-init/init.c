/* Placeholder until the guest init lands. */
int main(void) { return 0; }
