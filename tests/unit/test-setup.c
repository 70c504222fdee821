/* setup planning. */
int main(void){return 0;}
